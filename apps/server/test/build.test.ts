/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfiles write variables as ${VAR} */
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { BuildImageInput, BuildMessage } from "@berth/api";
import { type BerthClient, uploadBuildContext } from "@berth/client";
import { tags } from "@berth/db";
import { type ContextSpec, contextTar } from "@berth/registry/testing";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { checkEvent, USER_AGENT } from "./expect-events";
import { forFile, rid } from "./helpers";
import { layoutRef, ok, startOciEnv } from "./oci-helpers";

/*
 * image.build end to end: the context uploaded over HTTP, the build followed through the
 * typed client's subscription, the image pulled back with skopeo over /v2 and unpacked with
 * umoci, and compared with what the Dockerfile asked for.
 */

const env = await forFile(startOciEnv(["skopeo", "umoci"]));
let client: BerthClient;
let creds: string;
let baseDigest: string;
let baseLayers: string[];

const skopeo = (args: string[]) => ok("skopeo", args, { env: env.clientEnv });
const ref = (name: string) => `docker://${env.host}/${name}`;

beforeAll(async () => {
  await env.namespace(env.alice, "builds");
  client = env.client(env.alice);
  creds = `iamapikey:${env.alice.apiKey}`;

  // A base image made with umoci and pushed with skopeo, as a user would.
  const layout = join(env.tmp, "base-layout");
  const rootfs = join(env.tmp, "base-rootfs");
  mkdirSync(join(rootfs, "etc"), { recursive: true });
  mkdirSync(join(rootfs, "bin"), { recursive: true });
  writeFileSync(
    join(rootfs, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nweb:x:1500:1600::/home/web:/bin/sh\n",
  );
  writeFileSync(join(rootfs, "etc/group"), "root:x:0:\nweb:x:1600:\nadm:x:4:\n");
  writeFileSync(join(rootfs, "bin/base-tool"), "#!/bin/sh\necho base\n", { mode: 0o755 });
  await ok("umoci", ["init", "--layout", layout]);
  await ok("umoci", ["new", "--image", `${layout}:tmp`]);
  await ok("umoci", ["insert", "--image", `${layout}:tmp`, rootfs, "/"]);
  await ok("umoci", [
    "config",
    "--image",
    `${layout}:tmp`,
    "--tag",
    "base",
    "--config.env=BASE_VAR=from-base",
    "--config.cmd=/bin/base-tool",
    "--architecture=amd64",
    "--os=linux",
  ]);
  await skopeo([
    "copy",
    "--dest-tls-verify=false",
    "--dest-creds",
    creds,
    `oci:${layout}:base`,
    ref("builds/base:1"),
  ]);
  baseDigest = layoutRef(layout, "base").digest;
  const manifest = JSON.parse(
    readFileSync(join(layout, "blobs/sha256", baseDigest.slice(7)), "utf8"),
  ) as { layers: { digest: string }[] };
  baseLayers = manifest.layers.map((l) => l.digest);
}, 180_000);

/** Upload a context and follow image.build to its end; returns every message. */
async function build(
  files: ContextSpec,
  input: Omit<BuildImageInput, "context">,
  requestId = rid("build"),
): Promise<{ messages: BuildMessage[]; requestId: string }> {
  const { context } = await uploadBuildContext(
    { url: env.url(), apiKey: env.alice.apiKey, headers: { "user-agent": USER_AGENT } },
    await contextTar(files),
  );
  const messages: BuildMessage[] = [];
  await new Promise<void>((resolve, reject) => {
    const sub = client.image.build.subscribe(
      { ...input, context },
      {
        context: { requestId },
        onData: (m) => {
          messages.push(m);
          if (m.kind === "done" || m.kind === "failed") sub.unsubscribe();
          if (m.kind === "done" || m.kind === "failed") resolve();
        },
        onError: reject,
        onComplete: () => resolve(),
      },
    );
  });
  return { messages, requestId };
}

function done(messages: BuildMessage[]) {
  const last = messages.at(-1)!;
  if (last.kind !== "done") throw new Error(`build failed: ${JSON.stringify(last)}`);
  return last.result;
}

const APP: ContextSpec = {
  Dockerfile: [
    "ARG BASE=builds/base:1",
    "FROM $BASE",
    "ARG GREETING=hi",
    "ENV GREETING=${GREETING} APP=/srv/app",
    "WORKDIR $APP",
    "COPY --chown=web:adm app/ ./",
    "COPY --chmod=750 tools/* /usr/local/bin/",
    "COPY config.json /etc/app/config.json",
    "LABEL greeting=$GREETING",
    "EXPOSE 8080",
    "USER web",
    'ENTRYPOINT ["/usr/local/bin/serve"]',
    'CMD ["--port", "8080"]',
  ].join("\n"),
  ".dockerignore": "app/*.tmp\n",
  "app/index.html": "<h1>hello</h1>\n",
  "app/scratch.tmp": "ignored\n",
  "app/static/": { dir: true, mode: 0o755 },
  "app/static/site.css": { content: "body{}\n", mode: 0o640 },
  "tools/serve": { content: "#!/bin/sh\nexec busybox httpd\n", mode: 0o644 },
  "tools/health": "#!/bin/sh\n",
  "config.json": '{"port":8080}\n',
};

describe("image.build through the API", () => {
  let first: { messages: BuildMessage[]; requestId: string };
  beforeAll(async () => {
    first = await build(APP, { target: "builds/app:1", buildArgs: { GREETING: "bonjour" } });
  }, 120_000);

  it("streams progress step by step and ends with the stored image", () => {
    const kinds = first.messages.map((m) => m.kind);
    expect(kinds[0]).toBe("start");
    expect(kinds.slice(-2)).toEqual(["stored", "done"]);
    const steps = first.messages.filter((m) => m.kind === "step");
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
    expect(steps[1]).toMatchObject({ line: 2, instruction: "FROM $BASE", steps: 13 });
    const result = done(first.messages);
    expect(result.base).toEqual({ reference: "builds/base:1", digest: baseDigest });
    expect(result.layers.filter((l) => l.reused).map((l) => l.digest)).toEqual(baseLayers);
    expect(result.layers.filter((l) => !l.reused)).toHaveLength(3);
  });

  it("writes one image.build success event", async () => {
    const result = done(first.messages);
    const events = await env.events(first.requestId);
    expect(events).toHaveLength(1);
    const event = checkEvent(events[0], first.requestId, {
      action: "container-registry.image.build",
      outcome: "success",
      severity: "normal",
      reasonCode: 201,
      who: env.alice,
      targetType: "image",
      targetName: "builds/app:1",
      crnResource: `builds/app@${result.digest}`,
      message: "Container Registry: build image builds/app:1",
    });
    expect(event.requestData).toMatchObject({ buildArgNames: ["GREETING"] });
    expect(JSON.stringify(event)).not.toContain("bonjour");
  });

  it("pulls with skopeo and unpacks with umoci to the files, owners, modes and config asked for", async () => {
    const result = done(first.messages);
    const pulled = join(env.tmp, "pulled");
    await skopeo([
      "copy",
      "--src-tls-verify=false",
      "--src-creds",
      creds,
      ref("builds/app:1"),
      `oci:${pulled}:1`,
    ]);
    expect(layoutRef(pulled, "1").digest).toBe(result.digest);
    const bundle = join(env.tmp, "bundle");
    await ok("umoci", ["unpack", "--image", `${pulled}:1`, bundle]);
    const rootfs = join(bundle, "rootfs");
    const file = (path: string) => {
      const s = statSync(join(rootfs, path));
      return { mode: (s.mode & 0o7777).toString(8), uid: s.uid, gid: s.gid };
    };
    // From the base image.
    expect(readFileSync(join(rootfs, "bin/base-tool"), "utf8")).toBe("#!/bin/sh\necho base\n");
    // COPY --chown=web:adm app/ ./ under WORKDIR /srv/app, without what .dockerignore leaves out.
    expect(readFileSync(join(rootfs, "srv/app/index.html"), "utf8")).toBe("<h1>hello</h1>\n");
    expect(file("srv/app/index.html")).toEqual({ mode: "644", uid: 1500, gid: 4 });
    expect(file("srv/app/static/site.css")).toEqual({ mode: "640", uid: 1500, gid: 4 });
    expect(file("srv/app/static")).toEqual({ mode: "755", uid: 1500, gid: 4 });
    expect(() => statSync(join(rootfs, "srv/app/scratch.tmp"))).toThrow();
    // COPY --chmod=750 with a glob: root-owned, mode from the flag.
    expect(file("usr/local/bin/serve")).toEqual({ mode: "750", uid: 0, gid: 0 });
    expect(file("usr/local/bin/health")).toEqual({ mode: "750", uid: 0, gid: 0 });
    expect(file("etc/app/config.json")).toEqual({ mode: "644", uid: 0, gid: 0 });
    expect(readFileSync(join(rootfs, "etc/app/config.json"), "utf8")).toBe('{"port":8080}\n');

    const runtime = JSON.parse(readFileSync(join(bundle, "config.json"), "utf8")) as {
      process: { args: string[]; env: string[]; cwd: string; user: { uid: number; gid: number } };
      annotations?: Record<string, string>;
    };
    expect(runtime.process.args).toEqual(["/usr/local/bin/serve", "--port", "8080"]);
    expect(runtime.process.cwd).toBe("/srv/app");
    expect(runtime.process.user).toMatchObject({ uid: 1500, gid: 1600 });
    expect(runtime.process.env).toEqual(
      expect.arrayContaining(["BASE_VAR=from-base", "GREETING=bonjour", "APP=/srv/app"]),
    );

    const config = JSON.parse(
      await skopeo([
        "inspect",
        "--config",
        "--tls-verify=false",
        "--creds",
        creds,
        ref("builds/app:1"),
      ]),
    ) as { config: Record<string, unknown>; history: unknown[] };
    expect(config.config).toMatchObject({
      User: "web",
      WorkingDir: "/srv/app",
      Labels: { greeting: "bonjour" },
      ExposedPorts: { "8080/tcp": {} },
      Entrypoint: ["/usr/local/bin/serve"],
      Cmd: ["--port", "8080"],
    });
  }, 120_000);

  it("builds the same digest again from the same context and args", async () => {
    const again = await build(APP, {
      target: "builds/app:again",
      buildArgs: { GREETING: "bonjour" },
    });
    expect(done(again.messages).digest).toBe(done(first.messages).digest);
    const other = await build(APP, {
      target: "builds/app:other",
      buildArgs: { GREETING: "hallo" },
    });
    expect(done(other.messages).digest).not.toBe(done(first.messages).digest);
  }, 120_000);

  it("ends with a failed message naming the line, a failure event, and nothing stored", async () => {
    const { messages, requestId } = await build(
      { Dockerfile: "FROM builds/base:1\nCOPY a /a\nRUN make install\n", a: "a" },
      { target: "builds/refused:1" },
    );
    const last = messages.at(-1)!;
    expect(last).toEqual({
      kind: "failed",
      error: {
        code: "BAD_REQUEST",
        line: 3,
        message: expect.stringMatching(/^Dockerfile line 3: RUN is not supported/),
      },
    });
    const events = await env.events(requestId);
    expect(events).toHaveLength(1);
    checkEvent(events[0], requestId, {
      action: "container-registry.image.build",
      outcome: "failure",
      severity: "warning",
      reasonCode: 400,
      who: env.alice,
      targetType: "image",
      targetName: "builds/refused:1",
    });
    expect(await env.t.db.select().from(tags).where(eq(tags.name, "refused"))).toEqual([]);
    const missing = await skopeo([
      "inspect",
      "--tls-verify=false",
      "--creds",
      creds,
      ref("builds/refused:1"),
    ]).catch((e: Error) => e.message);
    expect(missing).toMatch(/name unknown|manifest unknown/i);
  }, 60_000);
});

describe("POST /build/context", () => {
  it("needs an API key and answers the context id", async () => {
    const tar = await contextTar({ Dockerfile: "FROM scratch\n" });
    const none = await fetch(`${env.url()}/build/context`, {
      method: "POST",
      headers: { "content-type": "application/x-tar" },
      body: tar,
    });
    expect(none.status).toBe(401);
    const bad = await fetch(`${env.url()}/build/context`, {
      method: "POST",
      headers: { "content-type": "application/x-tar", authorization: "Bearer nope" },
      body: tar,
    });
    expect(bad.status).toBe(401);
    const good = await fetch(`${env.url()}/build/context`, {
      method: "POST",
      headers: { "content-type": "application/x-tar", authorization: `Bearer ${env.alice.apiKey}` },
      body: tar,
    });
    expect(good.status).toBe(201);
    expect(await good.json()).toEqual({
      context: expect.stringMatching(/^ctx_[0-9a-f]{48}$/),
      size: tar.length,
    });
    // tRPC, beside it, still parses its JSON bodies.
    expect((await client.whoami.query()).account.id).toBe(env.alice.account.id);
  });
});
