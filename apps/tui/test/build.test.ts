import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gunzipSync } from "node:zlib";
import { extract } from "tar-stream";
import { describe, expect, it } from "vitest";
import { parseBuildArgs, splitBuildArgs } from "../src/build/args";
import { BuildInputError, locateBuild, packContext, quoteLine } from "../src/build/context";
import { wrapText } from "../src/ui/screens/build";
import { contextDir } from "./context-dir";

// The local half of a build: the context tar, the Dockerfile's place, build args.

async function entries(tar: Uint8Array) {
  const out: { name: string; type: string; mode: number; uid: number; body: string }[] = [];
  const x = extract();
  const done = new Promise<void>((resolve, reject) => {
    x.on("entry", (header, stream, next) => {
      let body = "";
      stream.on("data", (c) => {
        body += (c as Buffer).toString();
      });
      stream.on("end", () => {
        out.push({
          name: header.name,
          type: header.type ?? "file",
          mode: header.mode ?? 0,
          uid: header.uid ?? 0,
          body: header.type === "symlink" ? `-> ${header.linkname}` : body,
        });
        next();
      });
    });
    x.on("finish", resolve);
    x.on("error", reject);
  });
  Readable.from([Buffer.from(gunzipSync(tar))]).pipe(x);
  await done;
  return out;
}

describe("packContext", () => {
  it("tars the folder in sorted order with modes, links, fixed owners and times", async () => {
    const dir = contextDir({
      Dockerfile: "FROM scratch\n",
      "b/run*": "#!/bin/sh\n",
      "a.txt": "a\n",
      ".dockerignore": "a.txt\n",
    });
    symlinkSync("a.txt", join(dir, "link"));
    const packed = await packContext(dir);
    expect(packed).toMatchObject({ files: 5, bytes: 31 });
    const list = await entries(packed.tar);
    expect(list.map((e) => [e.name, e.type])).toEqual([
      [".dockerignore", "file"],
      ["Dockerfile", "file"],
      ["a.txt", "file"],
      ["b/", "directory"],
      ["b/run", "file"],
      ["link", "symlink"],
    ]);
    expect(list.find((e) => e.name === "b/run")).toMatchObject({ mode: 0o755, uid: 0 });
    expect(list.find((e) => e.name === "link")!.body).toBe("-> a.txt");
    // The same folder, the same bytes: the server keeps one upload.
    expect(Buffer.from((await packContext(dir)).tar)).toEqual(Buffer.from(packed.tar));
  });

  it("stops when aborted", async () => {
    const dir = contextDir({ Dockerfile: "FROM scratch\n" });
    await expect(packContext(dir, AbortSignal.abort())).rejects.toThrow();
  });
});

describe("locateBuild", () => {
  it("finds the Dockerfile in the context, or says what is wrong", async () => {
    const dir = contextDir({ Dockerfile: "FROM scratch\n", "docker/Prod": "FROM scratch\n" });
    expect(await locateBuild(dir, undefined, "/")).toMatchObject({
      dir,
      dockerfile: "Dockerfile",
      dockerfileText: "FROM scratch\n",
    });
    // -f is from the current directory, the form's field from the context.
    expect((await locateBuild(dir, "docker/Prod", dir)).dockerfile).toBe("docker/Prod");
    expect((await locateBuild(dir, join(dir, "docker/Prod"), "/")).dockerfile).toBe("docker/Prod");
    await expect(locateBuild(join(dir, "nope"), undefined, "/")).rejects.toThrow(/does not exist/);
    await expect(locateBuild(join(dir, "Dockerfile"), undefined, "/")).rejects.toThrow(
      /not a directory/,
    );
    await expect(locateBuild(join(dir, "docker"), undefined, "/")).rejects.toThrow(
      /no Dockerfile in/,
    );
    await expect(
      locateBuild(join(dir, "docker"), "../Dockerfile", join(dir, "docker")),
    ).rejects.toThrow(BuildInputError);
    await expect(locateBuild(dir, "Missing", dir)).rejects.toThrow(/no Dockerfile at Missing/);
  });

  it("quotes the line a failure names", () => {
    expect(quoteLine("FROM scratch\r\nRUN make\n", 2)).toBe("   2 │ RUN make");
    expect(quoteLine("FROM scratch\n", 9)).toBeUndefined();
    expect(quoteLine("FROM scratch\n", undefined)).toBeUndefined();
  });
});

describe("build args", () => {
  it("parses NAME=value, takes NAME alone from the environment, refuses the rest", () => {
    expect(parseBuildArgs(["A=1", "B=x=y", "C=", "HOME", "UNSET"], { HOME: "/root" })).toEqual({
      A: "1",
      B: "x=y",
      C: "",
      HOME: "/root",
    });
    expect(() => parseBuildArgs(["=1"], {})).toThrow(/not NAME=value/);
    expect(() => parseBuildArgs(["1A=1"], {})).toThrow(BuildInputError);
  });

  it("splits the form's field on spaces, keeping quoted values whole", () => {
    expect(splitBuildArgs("")).toEqual([]);
    expect(splitBuildArgs(" A=1   B=2 ")).toEqual(["A=1", "B=2"]);
    expect(splitBuildArgs(`A="one two" B='x' C=""`)).toEqual(["A=one two", "B=x", "C="]);
    expect(() => splitBuildArgs('A="open')).toThrow(/not closed/);
  });
});

describe("wrapText", () => {
  it("wraps on words, cutting words longer than a line", () => {
    expect(wrapText("one two three", 7)).toEqual(["one two", "three"]);
    expect(wrapText("abcdefghij", 4)).toEqual(["abcd", "efgh", "ij"]);
  });
});
