/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfiles write variables as ${VAR} */
// Over 400 lines: every Dockerfile instruction the builder supports, each against the same
// staged contexts and base images, so the fixtures are built once for the file.
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { blobs, manifests, repositoryBlobs, tags } from "@berth/db";
import { stateFingerprint } from "@berth/db/testing";
import { eq, inArray } from "drizzle-orm";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { type LayerEntry, readTar, writeLayer } from "../src/build/tar-io";
import {
  type BuildImageInput,
  type BuildProgress,
  buildImage,
  ContextTooLargeError,
  createNamespace,
  RegistryError,
  readBlob,
  setBuildLimits,
  setQuota,
  stageBuildContext,
  storageUsage,
} from "../src/index";
import { type ContextSpec, contextTar, createTestImage, readLayer } from "../src/testing";
import { forFile, setup } from "./helpers";

// These tests stage a context for each build: far more than an account's default budget.
setBuildLimits({ contextsPerAccount: 100_000 });
const env = await forFile(setup({ alice: ["birds", "bases"], bob: ["bobs"] }));

const owner = (who = env.alice) => ({
  store: env.store,
  accountId: who.account.id,
  region: "us-south" as const,
});

async function stage(spec: ContextSpec, gzip = false, who = env.alice): Promise<string> {
  const staged = await stageBuildContext(owner(who), await contextTar(spec, { gzip }));
  return staged.context;
}

async function build(
  input: Omit<BuildImageInput, "context"> & { files: ContextSpec },
  who = env.alice,
) {
  const { files, ...rest } = input;
  const ctx = env.ctx(who);
  const progress: BuildProgress[] = [];
  const context = await stage(files, false, who);
  const result = await buildImage(ctx, { ...rest, context }, (p) => progress.push(p));
  return { result, progress, ctx, context };
}

async function buildFails(input: Record<string, unknown>, who = env.alice) {
  const ctx = env.ctx(who);
  const error = await buildImage(ctx, input).then(
    () => {
      throw new Error("the build was expected to fail");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  const events = await env.events(ctx.requestId);
  expect(events).toHaveLength(1);
  expect(events[0]!.action).toBe("container-registry.image.build");
  expect(events[0]!.outcome).toBe("failure");
  expect(events[0]!.reason.reasonForFailure).toBe((error as RegistryError).message);
  return { error: error as RegistryError, event: events[0]! };
}

async function manifestOf(digest: string) {
  const [row] = await env.t.db.select().from(manifests).where(eq(manifests.digest, digest));
  const manifest = JSON.parse(Buffer.from(row!.content).toString("utf8"));
  const config = JSON.parse((await readBlob(env.store, manifest.config.digest)).toString("utf8"));
  return { row: row!, manifest, config };
}

/** Rows that a stored image leaves, counted, for "nothing half-stored" checks. */
async function counts() {
  const db = env.t.db;
  return {
    manifests: (await db.select().from(manifests)).length,
    tags: (await db.select().from(tags)).length,
    links: (await db.select().from(repositoryBlobs)).length,
    blobs: (await db.select().from(blobs)).length,
    usage: await storageUsage(db, env.alice.account.id, "us-south"),
  };
}

const APP_FILES: ContextSpec = {
  Dockerfile: [
    "# syntax=docker/dockerfile:1",
    "FROM scratch",
    "ARG VERSION=0.0.0",
    'ENV APP_HOME=/srv/app GREETING="hello world"',
    "WORKDIR ${APP_HOME}",
    "COPY --chown=1000:1000 src/ ./",
    "COPY --chmod=755 bin/run.sh /usr/local/bin/run",
    "COPY *.md conf/*.conf /etc/app/",
    "ADD vendor.tar.gz /opt/vendor/",
    "LABEL org.opencontainers.image.version=$VERSION \\",
    '      description="${GREETING}"',
    "EXPOSE 8080 53/udp",
    "USER 1000:1000",
    'ENTRYPOINT ["/usr/local/bin/run"]',
    "CMD --port 8080",
  ].join("\n"),
  ".dockerignore": "**/*.log\nsrc/secret\n!src/keep.log\n",
  "src/": { dir: true, mode: 0o750 },
  "src/main.js": "console.log('hi')\n",
  "src/lib/util.js": { content: "export {}\n", mode: 0o600 },
  "src/link": { symlink: "main.js" },
  "src/debug.log": "noise\n",
  "src/keep.log": "kept\n",
  "src/secret": "s3cret\n",
  "bin/run.sh": { content: "#!/bin/sh\nexec node main.js\n", mode: 0o644 },
  "README.md": "# app\n",
  "NOTES.md": "notes\n",
  "conf/app.conf": "port=8080\n",
  "conf/other.txt": "not copied\n",
};

describe("image.build from scratch", () => {
  let first: Awaited<ReturnType<typeof build>>;
  beforeAll(async () => {
    const vendor = await contextTar(
      { "lib/": { dir: true }, "lib/v.txt": "vendored\n" },
      { gzip: true },
    );
    first = await build({
      target: "birds/app:1",
      buildArgs: { VERSION: "1.2.3" },
      files: { ...APP_FILES, "vendor.tar.gz": vendor },
    });
  });

  it("stores an OCI image with the config the Dockerfile describes", async () => {
    const { result } = first;
    expect(result.target).toBe("birds/app:1");
    expect(result.created).toBe(true);
    expect(result.base).toEqual({ reference: "scratch", digest: null });
    expect(result.layers).toHaveLength(4);
    expect(result.layers.every((l) => !l.reused)).toBe(true);
    const { manifest, config, row } = await manifestOf(result.digest);
    expect(row.mediaType).toBe("application/vnd.oci.image.manifest.v1+json");
    expect(manifest.layers.map((l: { digest: string }) => l.digest)).toEqual(
      result.layers.map((l) => l.digest),
    );
    expect(config.created).toBe("1970-01-01T00:00:00Z");
    expect(config.architecture).toBe("amd64");
    expect(config.os).toBe("linux");
    expect(config.config).toEqual({
      Env: [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "APP_HOME=/srv/app",
        "GREETING=hello world",
      ],
      WorkingDir: "/srv/app",
      Labels: { "org.opencontainers.image.version": "1.2.3", description: "hello world" },
      ExposedPorts: { "8080/tcp": {}, "53/udp": {} },
      User: "1000:1000",
      Entrypoint: ["/usr/local/bin/run"],
      Cmd: ["/bin/sh", "-c", "--port 8080"],
    });
    expect(config.rootfs.diff_ids).toHaveLength(4);
    expect(config.history.map((h: { created_by: string }) => h.created_by)).toEqual([
      "ARG VERSION=0.0.0",
      'ENV APP_HOME=/srv/app GREETING="hello world"',
      "WORKDIR ${APP_HOME}",
      "COPY --chown=1000:1000 src/ ./",
      "COPY --chmod=755 bin/run.sh /usr/local/bin/run",
      "COPY *.md conf/*.conf /etc/app/",
      "ADD vendor.tar.gz /opt/vendor/",
      'LABEL org.opencontainers.image.version=$VERSION       description="${GREETING}"',
      "EXPOSE 8080 53/udp",
      "USER 1000:1000",
      'ENTRYPOINT ["/usr/local/bin/run"]',
      "CMD --port 8080",
    ]);
    expect(config.history.filter((h: { empty_layer?: boolean }) => !h.empty_layer)).toHaveLength(4);
    const [tag] = await env.t.db.select().from(tags).where(eq(tags.name, "1"));
    expect(tag).toBeDefined();
  });

  it("makes layers with the files, modes and owners of the instructions", async () => {
    const [src, bin, docs, vendor] = await Promise.all(
      first.result.layers.map((l) => readLayer(env.store, l.digest)),
    );
    const summary = (entries: Awaited<ReturnType<typeof readLayer>>) =>
      entries.map(
        (e) =>
          `${e.type} ${e.name} ${e.mode.toString(8)} ${e.uid}:${e.gid}${e.linkname ? ` -> ${e.linkname}` : ""}`,
      );
    expect(summary(src!)).toEqual([
      "dir srv/ 755 0:0",
      "dir srv/app/ 750 1000:1000",
      "file srv/app/keep.log 644 1000:1000",
      "dir srv/app/lib/ 755 1000:1000",
      "file srv/app/lib/util.js 600 1000:1000",
      "symlink srv/app/link 777 1000:1000 -> main.js",
      "file srv/app/main.js 644 1000:1000",
    ]);
    expect(summary(bin!)).toEqual([
      "dir usr/ 755 0:0",
      "dir usr/local/ 755 0:0",
      "dir usr/local/bin/ 755 0:0",
      "file usr/local/bin/run 755 0:0",
    ]);
    expect(summary(docs!)).toEqual([
      "dir etc/ 755 0:0",
      "dir etc/app/ 755 0:0",
      "file etc/app/NOTES.md 644 0:0",
      "file etc/app/README.md 644 0:0",
      "file etc/app/app.conf 644 0:0",
    ]);
    expect(summary(vendor!)).toEqual([
      "dir opt/ 755 0:0",
      "dir opt/vendor/ 755 0:0",
      // ADD unpacks an archive keeping its owners, as Docker does.
      "dir opt/vendor/lib/ 755 501:20",
      "file opt/vendor/lib/v.txt 644 501:20",
    ]);
    expect(src!.find((e) => e.name.endsWith("main.js"))!.content).toBe("console.log('hi')\n");
    expect(bin!.every((e) => e.uid === 0 && e.gid === 0)).toBe(true);
  });

  it("reports progress step by step and writes one success event", async () => {
    const kinds = first.progress.map((p) => p.kind);
    expect(kinds[0]).toBe("start");
    expect(kinds.at(-1)).toBe("stored");
    const steps = first.progress.filter((p) => p.kind === "step");
    expect(steps).toHaveLength(13);
    expect(steps[0]).toMatchObject({ step: 1, steps: 13, line: 2, instruction: "FROM scratch" });
    expect(first.progress.filter((p) => p.kind === "layer")).toHaveLength(4);
    const events = await env.events(first.ctx.requestId);
    expect(events).toHaveLength(1);
    const event = events[0]!;
    expect(event).toMatchObject({
      action: "container-registry.image.build",
      outcome: "success",
      severity: "normal",
      dataEvent: true,
      message: "Container Registry: build image birds/app:1",
      target: { name: "birds/app:1", typeURI: "container-registry/image" },
      reason: { reasonCode: 201 },
    });
    expect(event.target.id.endsWith(`:image:birds/app@${first.result.digest}`)).toBe(true);
    expect(event.requestData).toEqual({
      dockerfile: "Dockerfile",
      context: first.context,
      buildArgNames: ["VERSION"],
    });
    expect(JSON.stringify(event)).not.toContain("1.2.3");
  });

  it("gives the same digest for the same context and args, and another for other args", async () => {
    const vendor = await contextTar(
      { "lib/": { dir: true }, "lib/v.txt": "vendored\n" },
      { gzip: true },
    );
    const files = { ...APP_FILES, "vendor.tar.gz": vendor };
    const again = await build({
      target: "birds/app:again",
      buildArgs: { VERSION: "1.2.3" },
      files,
    });
    expect(again.result.digest).toBe(first.result.digest);
    expect(again.result.created).toBe(false);
    // Entry order and timestamps in the context do not matter; contents do.
    const reordered = Object.fromEntries(Object.entries(files).reverse());
    const third = await build({
      target: "birds/app:3",
      buildArgs: { VERSION: "1.2.3" },
      files: reordered,
    });
    expect(third.result.digest).toBe(first.result.digest);
    const other = await build({ target: "birds/app:2", buildArgs: { VERSION: "2.0.0" }, files });
    expect(other.result.digest).not.toBe(first.result.digest);
    // Only the config differs: every layer is shared.
    expect(other.result.layers.map((l) => l.digest)).toEqual(
      first.result.layers.map((l) => l.digest),
    );
    const dated = await build({
      target: "birds/app:dated",
      buildArgs: { VERSION: "1.2.3" },
      sourceDateEpoch: 1_700_000_000,
      files,
    });
    expect(dated.result.digest).not.toBe(first.result.digest);
    const { config } = await manifestOf(dated.result.digest);
    expect(config.created).toBe("2023-11-14T22:13:20Z");
  });

  it("builds an image with no layer, and reads a gzip-compressed context", async () => {
    const ctx = env.ctx(env.alice);
    const context = await stage({ Dockerfile: 'FROM scratch\nENV A=1\nCMD ["/a"]\n' }, true);
    const result = await buildImage(ctx, { target: "birds/empty", context });
    expect(result.target).toBe("birds/empty:latest");
    expect(result.layers).toEqual([]);
    const { config } = await manifestOf(result.digest);
    expect(config.rootfs).toEqual({ type: "layers", diff_ids: [] });
    expect(config.config.Cmd).toEqual(["/a"]);
  });

  it("uses a Dockerfile at another path and warns about unused build args", async () => {
    const { result, progress } = await build({
      target: "birds/other:1",
      dockerfile: "build/Prod.Dockerfile",
      buildArgs: { UNUSED: "x" },
      files: { "build/Prod.Dockerfile": "FROM scratch\nCOPY build/ /b/\n" },
    });
    const entries = await readLayer(env.store, result.layers[0]!.digest);
    expect(entries.map((e) => e.name)).toEqual(["b/", "b/Prod.Dockerfile"]);
    expect(
      progress.some((p) => p.kind === "info" && /UNUSED was not declared/.test(p.message)),
    ).toBe(true);
  });
});

describe("image.build from a base image", () => {
  let base: Awaited<ReturnType<typeof createTestImage>>;
  beforeAll(async () => {
    base = await createTestImage(env.t.db, env.store, {
      accountId: env.alice.account.id,
      region: "us-south",
      repository: "bases/os",
      tag: "1",
      layers: [
        {
          "etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1001:1002::/home/app:/bin/sh\n",
          "etc/group": "root:x:0:\nstaff:x:50:\n",
          "bin/sh": "#!/bin/true\n",
        },
        { "usr/share/base.txt": "base\n" },
      ],
      cmd: ["/bin/sh"],
    });
  });

  it("reuses the base layers, links them instead of copying, and inherits the config", async () => {
    const before = await counts();
    const { result } = await build({
      target: "birds/derived:1",
      files: {
        Dockerfile: [
          "ARG BASE_TAG=0",
          "FROM bases/os:${BASE_TAG}",
          "COPY --chown=app:staff hello.txt /home/app/",
          "COPY --chown=app hello.txt /srv/by-name.txt",
          'ENTRYPOINT ["/bin/app"]',
          "ENV EXTRA=$PATH:/x",
        ].join("\n"),
        "hello.txt": "hello\n",
      },
      buildArgs: { BASE_TAG: "1" },
    });
    expect(result.base).toEqual({ reference: "bases/os:1", digest: base.digest });
    expect(result.layers.filter((l) => l.reused).map((l) => l.digest)).toEqual(
      base.layerBlobs.map((b) => b.digest),
    );
    const { manifest, config } = await manifestOf(result.digest);
    expect(manifest.layers.slice(0, 2).map((l: { digest: string }) => l.digest)).toEqual(
      base.layerBlobs.map((b) => b.digest),
    );
    expect(config.rootfs.diff_ids.slice(0, 2)).toEqual(
      (base.config.rootfs as { diff_ids: string[] }).diff_ids,
    );
    expect(config.history).toHaveLength(2 + 4);
    expect(config.config.Entrypoint).toEqual(["/bin/app"]);
    // A new ENTRYPOINT drops the base CMD.
    expect(config.config.Cmd).toBeUndefined();
    expect(config.config.WorkingDir).toBe("/app");
    expect(config.config.Env).toEqual([
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      "EXTRA=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/x",
    ]);
    const first = await readLayer(env.store, result.layers[2]!.digest);
    expect(first.find((e) => e.name === "home/app/hello.txt")).toMatchObject({
      uid: 1001,
      gid: 50,
    });
    const second = await readLayer(env.store, result.layers[3]!.digest);
    expect(second.find((e) => e.name === "srv/by-name.txt")).toMatchObject({
      uid: 1001,
      gid: 1002,
    });
    // Base blobs: no new rows, linked to the new repository; usage counts them once.
    const after = await counts();
    expect(after.blobs - before.blobs).toBe(3); // two layers and the config
    const links = await env.t.db
      .select()
      .from(repositoryBlobs)
      .where(
        inArray(
          repositoryBlobs.digest,
          base.layerBlobs.map((b) => b.digest),
        ),
      );
    expect(links).toHaveLength(4);
    const reused = result.layers.filter((l) => l.reused).reduce((s, l) => s + l.size, 0);
    expect(after.usage - before.usage).toBe(result.size - reused);
  });

  it("follows the base image's symbolic links and keeps the metadata of its directories", async () => {
    await createTestImage(env.t.db, env.store, {
      accountId: env.alice.account.id,
      region: "us-south",
      repository: "bases/linked",
      tag: "1",
      layers: [{ "usr/bin/true": "#!/bin/true\n" }],
    });
    const { result } = await build({
      target: "birds/linked:1",
      files: {
        Dockerfile: "FROM bases/linked:1\nCOPY tool /usr/bin/\nCOPY tool /usr/bin/renamed\n",
        tool: "t\n",
      },
    });
    const layer = await readLayer(env.store, result.layers[1]!.digest);
    expect(layer.map((e) => `${e.name} ${e.mode.toString(8)}`)).toEqual([
      "usr/ 755",
      "usr/bin/ 755",
      "usr/bin/tool 644",
    ]);
  });

  it("refuses a base image of another account, or one that does not exist", async () => {
    await createTestImage(env.t.db, env.store, {
      accountId: env.bob.account.id,
      region: "us-south",
      repository: "bobs/private",
      tag: "1",
    });
    for (const from of [
      "bobs/private:1",
      "bases/os:missing",
      "alpine",
      "docker.io/library/alpine",
    ]) {
      const context = await stage({ Dockerfile: `FROM ${from}\n` });
      const { error } = await buildFails({ target: "birds/x:1", context });
      expect(error.message).toMatch(/^Dockerfile line 1: FROM /);
      expect(error.code).toBe(from.startsWith("b") ? "NOT_FOUND" : "BAD_REQUEST");
    }
  });
});

describe("image.build failures", () => {
  it("refuses every unsupported instruction with an error naming the line, and stores nothing", async () => {
    for (const keyword of [
      "RUN",
      "SHELL",
      "VOLUME",
      "HEALTHCHECK",
      "ONBUILD",
      "STOPSIGNAL",
      "MAINTAINER",
      "FROB",
    ]) {
      const before = await counts();
      const context = await stage({
        Dockerfile: `FROM scratch\nCOPY a /a\n\n${keyword} ["x"]\n`,
        a: "a\n",
      });
      const { error, event } = await buildFails({ target: "birds/refused:1", context });
      expect(error.code).toBe("BAD_REQUEST");
      expect(error.message).toMatch(new RegExp(`^Dockerfile line 4: .*${keyword}`));
      expect(event).toMatchObject({
        severity: "warning",
        message: "Container Registry: build image birds/refused:1 -failure",
        target: { name: "birds/refused:1" },
        reason: { reasonCode: 400 },
      });
      expect(await counts()).toEqual(before);
    }
  });

  it("explains malformed Dockerfiles, contexts and inputs", async () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [{ Dockerfile: "COPY a b\n" }, "BAD_REQUEST", /^Dockerfile line 1: COPY before FROM/],
      [{ Dockerfile: "" }, "BAD_REQUEST", /^Dockerfile: is empty/],
      [
        { Dockerfile: 'FROM scratch\nENV A="open\n' },
        "BAD_REQUEST",
        /^Dockerfile line 2: ENV: unexpected end/,
      ],
      [
        { Dockerfile: "FROM scratch\nCOPY missing /x\n" },
        "BAD_REQUEST",
        /^Dockerfile line 2: missing was not found in the build context/,
      ],
      [
        { Dockerfile: "FROM scratch\nCOPY s /x\n", s: "1", ".dockerignore": "s\n" },
        "BAD_REQUEST",
        /^Dockerfile line 2: s is excluded by \.dockerignore/,
      ],
      [
        { Dockerfile: "FROM scratch\nCOPY *.nothing /x/\n" },
        "BAD_REQUEST",
        /no file in the build context matches \*\.nothing/,
      ],
      [
        { Dockerfile: "FROM scratch\nCOPY a b /x\n", a: "1", b: "2" },
        "BAD_REQUEST",
        /^Dockerfile line 2: COPY with several sources needs a directory destination/,
      ],
      [{ Dockerfile: "FROM scratch\nCOPY ../a /x\n" }, "BAD_REQUEST", /outside the build context/],
      [
        { Dockerfile: "FROM scratch\nADD https://example.com/x /x\n" },
        "BAD_REQUEST",
        /^Dockerfile line 2: ADD from a URL/,
      ],
      [
        { Dockerfile: "FROM scratch\nCOPY --chown=nobody a /a\n", a: "1" },
        "BAD_REQUEST",
        /user "nobody" is not in the image's \/etc\/passwd/,
      ],
      [
        { Dockerfile: "FROM scratch\nCOPY --chmod=rwx a /a\n", a: "1" },
        "BAD_REQUEST",
        /--chmod=rwx is not an octal mode/,
      ],
      [
        { Dockerfile: "FROM scratch\nEXPOSE 99999\n" },
        "BAD_REQUEST",
        /^Dockerfile line 2: EXPOSE 99999/,
      ],
      [
        { Dockerfile: "FROM scratch\nWORKDIR ${X:?needs X}\n" },
        "BAD_REQUEST",
        /^Dockerfile line 2: WORKDIR: X: needs X/,
      ],
      [
        { Dockerfile: "FROM --platform=windows scratch\n" },
        "BAD_REQUEST",
        /--platform=windows is not a platform/,
      ],
      [{ Other: "x" }, "BAD_REQUEST", /the build context has no Dockerfile/],
    ];
    for (const [files, code, message] of cases) {
      const before = await counts();
      const context = await stage(files as ContextSpec);
      const { error } = await buildFails({ target: "birds/bad:1", context });
      expect(error.code, JSON.stringify(files)).toBe(code);
      expect(error.message, JSON.stringify(files)).toMatch(message);
      expect(await counts()).toEqual(before);
    }
    const context = await stage({ Dockerfile: "FROM scratch\n" });
    const inputs: [Record<string, unknown>, string, RegExp][] = [
      [{ target: `birds/x@sha256:${"a".repeat(64)}`, context }, "BAD_REQUEST", /names a digest/],
      [{ target: "nope/x:1", context }, "NOT_FOUND", /namespace "nope" was not found/],
      [{ target: "bobs/x:1", context }, "NOT_FOUND", /namespace "bobs" was not found/],
      [{ target: "Birds/x", context }, "BAD_REQUEST", /invalid/],
      [{ target: "birds/x:1", context: `sha256:${"0".repeat(64)}` }, "NOT_FOUND", /upload it/],
      [{ target: "birds/x:1", context: "nonsense" }, "NOT_FOUND", /upload it/],
      [
        { target: "birds/x:1", context, buildArgs: { "bad name": "x" } },
        "BAD_REQUEST",
        /buildArgs/,
      ],
      [{ target: "birds/x:1", context, extra: 1 }, "BAD_REQUEST", /extra/],
      [
        { target: "birds/x:1", context, dockerfile: "../Dockerfile" },
        "BAD_REQUEST",
        /not a path inside the build context/,
      ],
    ];
    for (const [input, code, message] of inputs) {
      const { error } = await buildFails(input);
      expect(error.code, JSON.stringify(input)).toBe(code);
      expect(error.message, JSON.stringify(input)).toMatch(message);
    }
    const notTar = (await stageBuildContext(owner(), Buffer.from("not a tar at all"))).context;
    const { error } = await buildFails({ target: "birds/x:1", context: notTar });
    expect(error.message).toMatch(/the build context cannot be read/);
  });

  it("applies the storage quota as a push does, before and after the work", async () => {
    const ctx = env.ctx(env.bob);
    await createNamespace(ctx, { name: "bobquota" });
    await setQuota(env.ctx(env.bob), { storageMb: 1 });
    // Usage below the limit: the build runs. Its blobs are written, then, while it was
    // running, another image took the account over its quota: the build is refused when it
    // stores the image, and the blobs it wrote count for nothing.
    const big = randomBytes(1024 * 1024 + 10);
    const usageOf = () => storageUsage(env.t.db, env.bob.account.id, "us-south");
    const contextId = await stage(
      { Dockerfile: "FROM scratch\nCOPY f /f\n", f: "bob's file\n" },
      false,
      env.bob,
    );
    let filled = false;
    const store = Object.create(env.store) as typeof env.store;
    store.put = async (source, opts) => {
      const info = await env.store.put(source, opts);
      if (!filled) {
        filled = true;
        await createTestImage(env.t.db, env.store, {
          accountId: env.bob.account.id,
          region: "us-south",
          repository: "bobquota/big",
          layers: [{ big: big.toString("latin1") }],
        });
      }
      return info;
    };
    const racing = { ...env.ctx(env.bob), store };
    const layers: string[] = [];
    const error = await buildImage(
      racing,
      { target: "bobquota/app:1", context: contextId },
      (p) => {
        if (p.kind === "layer") layers.push(p.digest);
      },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).code).toBe("QUOTA_EXCEEDED");
    const [event] = await env.events(racing.requestId);
    expect(event).toMatchObject({
      outcome: "failure",
      severity: "critical",
      reason: { reasonCode: 403 },
    });
    // The layer was written to the store, but nothing in the database refers to it.
    expect(layers).toHaveLength(1);
    expect(await env.store.stat(layers[0]!)).not.toBeNull();
    expect(await env.t.db.select().from(blobs).where(eq(blobs.digest, layers[0]!))).toEqual([]);
    expect(
      await env.t.db.select().from(repositoryBlobs).where(eq(repositoryBlobs.digest, layers[0]!)),
    ).toEqual([]);
    const bobImages = await env.t.db.select().from(manifests);
    expect(bobImages.filter((m) => Buffer.from(m.content).includes(layers[0]!))).toEqual([]);
    const usage = await usageOf();
    const bigImage = await env.t.db.select().from(repositoryBlobs);
    expect(usage).toBeGreaterThan(1024 * 1024);
    expect(bigImage.some((l) => l.digest === layers[0])).toBe(false);
    // Now over quota: refused at once, before any work.
    const { error: refused } = await buildFails(
      { target: "bobquota/app:2", context: contextId },
      env.bob,
    );
    expect(refused.code).toBe("QUOTA_EXCEEDED");
    expect(refused.message).toMatch(/exceeded your storage quota/);
    expect(await usageOf()).toBe(usage);
  });

  it("stops when the caller cancels", async () => {
    const ctx = env.ctx(env.alice);
    const context = await stage({ Dockerfile: "FROM scratch\nCOPY a /a\n", a: "1" });
    const controller = new AbortController();
    const error = await buildImage(
      ctx,
      { target: "birds/canceled:1", context },
      (p) => {
        if (p.kind === "step" && p.step === 2) controller.abort();
      },
      { signal: controller.signal },
    ).catch((e: unknown) => e);
    expect((error as RegistryError).message).toMatch(/canceled/);
    const [event] = await env.events(ctx.requestId);
    expect(event!.outcome).toBe("failure");
    const [tag] = await env.t.db.select().from(tags).where(eq(tags.name, "canceled"));
    expect(tag).toBeUndefined();
  });
});

describe("layers and contexts", () => {
  it("writes the same layer bytes whatever the order of its entries, long paths included", async () => {
    const long = `${"deep/".repeat(30)}file.txt`;
    const entries: LayerEntry[] = [
      { path: "a", type: "dir", mode: 0o755, uid: 0, gid: 0 },
      { path: "a/x.txt", type: "file", mode: 0o644, uid: 0, gid: 0, content: Buffer.from("x") },
      { path: "a/link", type: "symlink", mode: 0o777, uid: 7, gid: 8, linkname: "x.txt" },
      { path: long, type: "file", mode: 0o600, uid: 1, gid: 2, content: Buffer.from("deep") },
    ];
    const one = await writeLayer(entries, 0);
    const two = await writeLayer([...entries].reverse(), 0);
    expect(two.digest).toBe(one.digest);
    expect(two.diffId).toBe(one.diffId);
    expect((await writeLayer(entries, 1)).digest).not.toBe(one.digest);
    const read: string[] = [];
    await readTar(one.gz, async (h, body) => {
      read.push(
        `${h.type} ${h.name} ${h.mode.toString(8)} ${h.uid}:${h.gid} ${h.type === "file" ? (await body()).toString() : h.linkname}`,
      );
    });
    expect(read).toEqual([
      "dir a/ 755 0:0 ",
      "symlink a/link 777 7:8 x.txt",
      "file a/x.txt 644 0:0 x",
      `file ${long} 600 1:2 deep`,
    ]);
    // gzip header: no timestamp, so the bytes do not depend on when the layer was made.
    expect([...one.gz.subarray(4, 8)]).toEqual([0, 0, 0, 0]);
  });

  it("refuses a context larger than the limit, from bytes or a stream", async () => {
    const bytes = await contextTar({ Dockerfile: "FROM scratch\n" });
    await expect(stageBuildContext(owner(), bytes, { maxBytes: 100 })).rejects.toThrow(
      ContextTooLargeError,
    );
    await expect(
      stageBuildContext(owner(), Readable.from([bytes.subarray(0, 600), bytes.subarray(600)]), {
        maxBytes: 1000,
      }),
    ).rejects.toThrow(/larger than 1000 bytes/);
    const staged = await stageBuildContext(owner(), Readable.from([bytes]), {
      maxBytes: bytes.length,
    });
    expect(staged.size).toBe(bytes.length);
  });
});

describe("image.build on arbitrary Dockerfiles", () => {
  beforeAll(async () => {
    await createTestImage(env.t.db, env.store, {
      accountId: env.alice.account.id,
      region: "us-south",
      repository: "bases/fuzz",
      tag: "1",
      layers: [{ "etc/passwd": "app:x:5:6::/:/bin/sh\n", "d/a": "base\n" }],
    });
  });

  it("ends in an image or a clear refusal with its event, never an internal error", async () => {
    const line = fc.oneof(
      fc.constantFrom(
        "FROM scratch",
        "FROM bases/fuzz:1",
        "FROM bases/nothing",
        "ARG A=1",
        "ARG B",
        "ENV X=$A Y=${B:-b}",
        "ENV Z ${A:?}",
        "WORKDIR /w",
        "WORKDIR rel/$A",
        "COPY . .",
        "COPY . /",
        "COPY f /",
        "COPY f g",
        "COPY d/ /d",
        "COPY --chown=1:2 * /all/",
        "COPY --chown=app f /f",
        "COPY l /link-target",
        "COPY f d/* /x/",
        "ADD f /added",
        "LABEL a=b",
        "EXPOSE 80 1-3/udp",
        "USER $A",
        'CMD ["x"]',
        "ENTRYPOINT run",
        "RUN true",
        "COPY ../f /",
      ),
      fc.string({ maxLength: 30 }),
    );
    const files: ContextSpec = {
      f: "f\n",
      "d/a": "a\n",
      "d/b/c": { content: "c\n", mode: 0o600 },
      l: { symlink: "d/a" },
    };
    let built = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("FROM scratch", "FROM bases/fuzz:1", ""),
        fc.array(line, { maxLength: 8 }),
        async (from, lines) => {
          const ctx = env.ctx(env.alice);
          const context = await stage({ ...files, Dockerfile: [from, ...lines].join("\n") });
          const before = await stateFingerprint(env.t.sql);
          try {
            await buildImage(ctx, { target: "birds/fuzz:1", context });
            built++;
          } catch (error) {
            expect(error).toBeInstanceOf(RegistryError);
            expect((error as RegistryError).code, (error as Error).message).not.toBe("INTERNAL");
            // A refused build stores nothing: no blob, link, manifest or tag.
            expect(await stateFingerprint(env.t.sql)).toEqual(before);
          }
          const events = await env.events(ctx.requestId);
          expect(events).toHaveLength(1);
        },
      ),
      { numRuns: 60 },
    );
    expect(built).toBeGreaterThan(0);
  }, 120_000);
});
