import {
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCli } from "../src/cli/run";
import { renderTable } from "../src/cli/table";
import {
  ConfigFileError,
  configPath,
  maskKey,
  readConfig,
  resolveTarget,
  writeConfig,
} from "../src/config";
import { formatBytes, formatDuration, fullAction, shortDigest } from "../src/format";
import { mergeLines } from "../src/ui/screens/events";

const dir = () => mkdtempSync(join(tmpdir(), "berth-cfg-"));

describe("configuration", () => {
  it("finds the file from BERTH_CONFIG, XDG_CONFIG_HOME or HOME", () => {
    expect(configPath({ BERTH_CONFIG: "/x/c.json", HOME: "/h" })).toBe("/x/c.json");
    expect(configPath({ XDG_CONFIG_HOME: "/xdg", HOME: "/h" })).toBe("/xdg/berth/config.json");
    expect(configPath({ HOME: "/h" })).toBe("/h/.config/berth/config.json");
  });

  it("writes the file 0600 in a 0700 folder, and reads it back", () => {
    const path = join(dir(), "nested", "config.json");
    writeConfig(path, { region: "us-south", regions: { "us-south": "http://a" }, apiKey: "k" });
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(path, "..")).mode & 0o777).toBe(0o700);
    expect(readConfig(path)).toEqual({
      region: "us-south",
      regions: { "us-south": "http://a" },
      apiKey: "k",
    });
    expect(readConfig(join(dir(), "missing.json"))).toEqual({ regions: {} });
    const bad = join(dir(), "bad.json");
    writeFileSync(bad, "{not json");
    expect(() => readConfig(bad)).toThrow(ConfigFileError);
  });

  it("does not write through a symlink planted at a temporary name", () => {
    // Another local user plants a link where the file used to be written first (its name
    // was the config's plus the pid), pointing at a file of the victim's they want overwritten
    // (or at one they can read). The key must not go there, nor the config become a link.
    const d = dir();
    const path = join(d, "config.json");
    const victim = join(dir(), "authorized_keys");
    writeFileSync(victim, "ssh-ed25519 AAAA original\n", { mode: 0o644 });
    symlinkSync(victim, `${path}.${process.pid}.tmp`);
    writeConfig(path, { regions: { "us-south": "http://a" }, apiKey: "secret-key-123" });
    expect(readFileSync(victim, "utf8")).toBe("ssh-ed25519 AAAA original\n");
    expect(statSync(victim).mode & 0o777).toBe(0o644);
    expect(lstatSync(path).isSymbolicLink()).toBe(false);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readConfig(path).apiKey).toBe("secret-key-123");
    // Only the planted link is left beside it: no temporary file of ours stays behind.
    expect(readdirSync(d).sort()).toEqual(["config.json", `config.json.${process.pid}.tmp`]);
  });

  it("takes flags over the environment over the file, and a region's own URL", () => {
    const path = join(dir(), "c.json");
    writeConfig(path, {
      region: "us-south",
      regions: { "us-south": "http://us", "ap-north": "http://ap" },
      apiKey: "file-key",
    });
    const env = { BERTH_CONFIG: path };
    expect(resolveTarget({}, env)).toMatchObject({
      url: "http://us",
      apiKey: "file-key",
      region: "us-south",
    });
    expect(
      resolveTarget({}, { ...env, BERTH_URL: "http://env", BERTH_API_KEY: "env-key" }),
    ).toMatchObject({
      url: "http://env",
      apiKey: "env-key",
    });
    expect(resolveTarget({ region: "ap-north" }, { ...env, BERTH_URL: "http://env" }).url).toBe(
      "http://ap",
    );
    expect(resolveTarget({ url: "http://flag", apiKey: "flag-key" }, env)).toMatchObject({
      url: "http://flag",
      apiKey: "flag-key",
    });
  });

  it("masks keys", () => {
    expect(maskKey("berth_ak_0123456789abcdef")).toBe("bert…cdef");
    expect(maskKey("short")).toBe("****");
    expect(maskKey(undefined)).toBe("(none)");
  });
});

describe("command line parsing", () => {
  it("splits command, arguments and options, and refuses the unknown", () => {
    const p = parseCli(["--url", "http://x", "image-rm", "a/b:1", "a/c:2", "-o", "json"]);
    expect(p).toMatchObject({ command: "image-rm", args: ["a/b:1", "a/c:2"], json: true });
    expect(p.flags).toEqual({ url: "http://x" });
    expect(parseCli(["events", "--action", "a", "--action", "b,c"]).opts.action).toEqual([
      "a",
      "b,c",
    ]);
    expect(parseCli([]).command).toBeUndefined();
    expect(() => parseCli(["nope"])).toThrow(/unknown command/);
    expect(() => parseCli(["quota", "--storage", "1"])).toThrow(/unknown option '--storage'/);
  });
});

describe("formatting", () => {
  it("formats sizes, durations, digests and actions", () => {
    expect(formatBytes(912)).toBe("912 B");
    expect(formatBytes(512 * 1024 * 1024)).toBe("512 MB");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatDuration(1500)).toBe("1.5 s");
    expect(formatDuration(125_000)).toBe("2.1 min");
    expect(shortDigest(`sha256:${"a".repeat(64)}`)).toBe(`sha256:${"a".repeat(12)}`);
    expect(fullAction("namespace.create")).toBe("container-registry.namespace.create");
    expect(fullAction("container-registry.image.rm")).toBe("container-registry.image.rm");
  });

  it("aligns table columns", () => {
    const t = renderTable(
      [
        { header: "NAME", value: (r: { n: string; c: number }) => r.n },
        { header: "COUNT", value: (r) => r.c, align: "right" },
      ],
      [
        { n: "a", c: 1 },
        { n: "longer", c: 100 },
      ],
    );
    expect(t).toBe("NAME     COUNT\na            1\nlonger     100");
  });

  it("merges event pages and live lines once each, newest first", () => {
    const line = (id: string, ts: number) => ({ _id: id, _ts: ts }) as never;
    const merged = mergeLines([line("b", 2), line("a", 1)], [line("c", 3), line("b", 2)]);
    expect(merged.map((l: { _id: string }) => l._id)).toEqual(["c", "b", "a"]);
  });
});
