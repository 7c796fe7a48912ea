import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { registryTokens } from "@berth/db";
import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { forFile } from "./helpers";
import { MEDIA } from "./oci-client";
import {
  layoutBlob,
  layoutClosure,
  layoutRef,
  loggedRequests,
  ok,
  podmanIn,
  run,
  sha256,
  startOciEnv,
  tagLayout,
  umociImage,
  writeLayoutBlob,
} from "./oci-helpers";

/*
 * Real clients against a real server: skopeo and podman (as CI installs them from Debian),
 * images built with umoci. Nothing here is skipped: a missing tool fails the suite.
 */

const env = await forFile(startOciEnv(["skopeo", "podman", "umoci"]));
let layout: string;
let apiKeyCreds: string;

const skopeo = (args: string[]) => ok("skopeo", args, { env: env.clientEnv });
const ref = (name: string) => `docker://${env.host}/${name}`;
/** The flags that point skopeo at this registry (plain HTTP) as one side of a command. */
const here = (side: "src-" | "dest-" | "", creds: string) => [
  `--${side}tls-verify=false`,
  `--${side}creds`,
  creds,
];
/** `skopeo copy`, with this registry's flags on each side that is a docker:// reference here. */
const skopeoCopy = (from: string, to: string, opts: { creds?: string; extra?: string[] } = {}) => {
  const creds = opts.creds ?? apiKeyCreds;
  const side = (r: string, name: "src-" | "dest-") =>
    r.startsWith("docker://") ? here(name, creds) : [];
  return skopeo([
    "copy",
    ...(opts.extra ?? []),
    ...side(from, "src-"),
    ...side(to, "dest-"),
    from,
    to,
  ]);
};
/** A skopeo verb (inspect, list-tags, delete) on a repository or image here. */
const onRef = (verb: string, name: string, extra: string[] = [], creds = apiKeyCreds) =>
  skopeo([verb, ...extra, ...here("", creds), ref(name)]);

beforeAll(async () => {
  await env.namespace(env.alice, "alicens");
  apiKeyCreds = `iamapikey:${env.alice.apiKey}`;
  layout = join(env.tmp, "layout");
  await umociImage(layout, "v1", {
    layers: [
      { run: "#!/bin/sh\necho hello\n", data: randomBytes(200_000) },
      { more: randomBytes(50_000) },
    ],
  });
}, 120_000);

/** Requests of the server log as method, url and status, in order. */
const requests = () => loggedRequests(env.logs);

describe("skopeo", () => {
  it("pushes an OCI image built with umoci and pulls it back byte for byte", async () => {
    const local = layoutRef(layout, "v1");
    await skopeoCopy(`oci:${layout}:v1`, ref("alicens/app:v1"));

    const raw = await onRef("inspect", "alicens/app:v1", ["--raw"]);
    expect(Buffer.from(raw).equals(layoutBlob(layout, local.digest))).toBe(true);
    const info = JSON.parse(await onRef("inspect", "alicens/app:v1")) as {
      Digest: string;
      Architecture: string;
      Layers: string[];
    };
    expect(info.Digest).toBe(local.digest);
    expect(info.Architecture).toBe("amd64");

    const pulled = join(env.tmp, "pulled");
    await skopeoCopy(ref("alicens/app:v1"), `oci:${pulled}:v1`);
    expect(layoutRef(pulled, "v1").digest).toBe(local.digest);
    const digests = layoutClosure(layout, local.digest);
    expect(digests).toHaveLength(4);
    for (const digest of digests) {
      expect(layoutBlob(pulled, digest).equals(layoutBlob(layout, digest)), digest).toBe(true);
    }

    const pushes = await env.allEvents("container-registry.image.push");
    expect(pushes.map((e) => [e.outcome, e.target.name])).toEqual([["success", "alicens/app:v1"]]);
    expect(pushes[0]!.target.id.endsWith(`::image:alicens/app@${local.digest}`)).toBe(true);
    expect(pushes[0]!.initiator.credential.type).toBe("apikey");
    expect(pushes[0]!.initiator.host.agent).toMatch(/^skopeo/);
    // One pull event per manifest GET: inspect --raw, inspect (manifest only; the config is a blob), copy.
    const pulls = await env.allEvents("container-registry.image.pull");
    expect(pulls.length).toBeGreaterThanOrEqual(3);
    expect(pulls.every((e) => e.outcome === "success" && e.target.name === "alicens/app:v1")).toBe(
      true,
    );
  });

  it("pushes a Docker-format copy (--format v2s2) whose layers are the same bytes", async () => {
    await skopeoCopy(`oci:${layout}:v1`, ref("alicens/app:v1-docker"), {
      extra: ["--format", "v2s2"],
    });
    const raw = await onRef("inspect", "alicens/app:v1-docker", ["--raw"]);
    const manifest = JSON.parse(raw) as {
      mediaType: string;
      layers: { digest: string; mediaType: string }[];
    };
    expect(manifest.mediaType).toBe(MEDIA.dockerManifest);
    expect(manifest.layers.every((l) => l.mediaType === MEDIA.dockerLayer)).toBe(true);
    const dir = join(env.tmp, "docker-dir");
    await skopeoCopy(ref("alicens/app:v1-docker"), `dir:${dir}`);
    expect(readFileSync(join(dir, "manifest.json")).equals(Buffer.from(raw))).toBe(true);
    for (const layer of manifest.layers) {
      const bytes = readFileSync(join(dir, layer.digest.slice("sha256:".length)));
      expect(bytes.equals(layoutBlob(layout, layer.digest))).toBe(true);
    }
  });

  it("copies between repositories by mounting the blobs instead of uploading them", async () => {
    const before = requests().length;
    await skopeoCopy(ref("alicens/app:v1"), ref("alicens/copy:v1"));
    const copied = requests()
      .slice(before)
      .filter((r) => r.url.startsWith("/v2/alicens/copy/"));
    // The request log keeps paths without their query (build arguments rode in it), so a
    // mount shows as the only kind of upload POST answered 201 (a new upload session is 202).
    const posts = copied.filter((r) => r.method === "POST" && r.url.endsWith("/blobs/uploads/"));
    const mounts = posts.filter((r) => r.status === 201);
    // Both layers were mounted; skopeo always uploads the (small) config itself.
    const layers = (
      JSON.parse(layoutBlob(layout, layoutRef(layout, "v1").digest).toString()) as {
        layers: { digest: string }[];
      }
    ).layers;
    expect(mounts).toHaveLength(layers.length);
    expect(posts.length - mounts.length).toBeLessThanOrEqual(1);
    expect(copied.filter((r) => r.method === "PATCH").length).toBeLessThanOrEqual(1);
    const digest = (name: string) =>
      skopeo([
        "inspect",
        "--format",
        "{{.Digest}}",
        "--tls-verify=false",
        "--creds",
        apiKeyCreds,
        ref(name),
      ]);
    expect(await digest("alicens/copy:v1")).toBe(await digest("alicens/app:v1"));
  });

  it("lists tags and deletes an image", async () => {
    const tags = JSON.parse(await onRef("list-tags", "alicens/app")) as { Tags: string[] };
    expect(tags.Tags).toEqual(["v1", "v1-docker"]);
    const raw = await onRef("inspect", "alicens/app:v1-docker", ["--raw"]);
    await onRef("delete", "alicens/app:v1-docker");
    const gone = await run(
      "skopeo",
      ["inspect", "--tls-verify=false", "--creds", apiKeyCreds, ref("alicens/app:v1-docker")],
      { env: env.clientEnv },
    );
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toMatch(/manifest unknown/i);
    const deletes = await env.allEvents("container-registry.image.delete");
    expect(deletes.map((e) => [e.outcome, e.target.name, e.severity])).toEqual([
      ["success", `alicens/app@${sha256(raw)}`, "critical"],
    ]);
    const left = JSON.parse(await onRef("list-tags", "alicens/app")) as { Tags: string[] };
    expect(left.Tags).toEqual(["v1"]);
  });

  it("pushes and pulls a multi-architecture index (--all)", async () => {
    await umociImage(layout, "amd", { layers: [{ bin: "amd64 binary" }], architecture: "amd64" });
    await umociImage(layout, "arm", { layers: [{ bin: "arm64 binary" }], architecture: "arm64" });
    const amd = layoutRef(layout, "amd");
    const arm = layoutRef(layout, "arm");
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA.ociIndex,
        manifests: [
          { ...amd, platform: { architecture: "amd64", os: "linux" } },
          { ...arm, platform: { architecture: "arm64", os: "linux" } },
        ].map(({ digest, mediaType, size, platform }) => ({ mediaType, digest, size, platform })),
      }),
    );
    const indexDigest = writeLayoutBlob(layout, index);
    tagLayout(layout, "multi", {
      mediaType: MEDIA.ociIndex,
      digest: indexDigest,
      size: index.length,
    });

    await skopeoCopy(`oci:${layout}:multi`, ref("alicens/multi:1"), { extra: ["--all"] });
    const raw = await onRef("inspect", "alicens/multi:1", ["--raw"]);
    expect(Buffer.from(raw).equals(index)).toBe(true);
    for (const arch of ["amd64", "arm64"]) {
      const info = JSON.parse(
        await onRef("inspect", "alicens/multi:1", ["--override-arch", arch]),
      ) as { Architecture: string };
      expect(info.Architecture).toBe(arch);
    }
    const pulled = join(env.tmp, "multi-pulled");
    await skopeoCopy(ref("alicens/multi:1"), `oci:${pulled}:multi`, { extra: ["--all"] });
    for (const digest of layoutClosure(layout, indexDigest)) {
      expect(layoutBlob(pulled, digest).equals(layoutBlob(layout, digest)), digest).toBe(true);
    }
    const pushes = (await env.allEvents("container-registry.image.push")).filter((e) =>
      e.target.name.startsWith("alicens/multi"),
    );
    // The two platform manifests go by digest, then the index by tag.
    expect(pushes.map((e) => e.target.name).sort()).toEqual(
      [`alicens/multi@${amd.digest}`, `alicens/multi@${arm.digest}`, "alicens/multi:1"].sort(),
    );
  });
});

describe("registry tokens with skopeo", () => {
  it("lets a read-only token pull and refuses its push with DENIED and a failure event", async () => {
    const secret = await env.registryToken(env.alice, "read");
    const creds = `token:${secret}`;
    const info = await onRef("inspect", "alicens/app:v1", ["--format", "{{.Digest}}"], creds);
    expect(info.trim()).toBe(layoutRef(layout, "v1").digest);
    const push = await run(
      "skopeo",
      [
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        `oci:${layout}:v1`,
        ref("alicens/readonly:v1"),
      ],
      { env: env.clientEnv },
    );
    expect(push.code).not.toBe(0);
    expect(push.stderr).toMatch(/denied/i);
    const refused = (await env.allEvents("container-registry.image.push")).filter(
      (e) => e.outcome === "failure",
    );
    expect(refused.length).toBeGreaterThan(0);
    for (const event of refused) {
      expect(event.target.name).toBe("alicens/readonly");
      expect(event.reason.reasonCode).toBe(403);
      expect(event.severity).toBe("critical");
      expect(event.initiator.credential.type).toBe("token");
      expect(event.initiator.typeURI).toBe("service/security/account/serviceid");
    }
    // Nothing was stored.
    const [row] = await env.t.db.execute<{ n: number }>(
      sql`select count(*)::int as n from repositories where name = 'alicens/readonly'`,
    );
    expect(row?.n).toBe(0);
  });

  it("lets a read-write token push, and refuses an expired token", async () => {
    const secret = await env.registryToken(env.alice, "readwrite");
    await skopeoCopy(`oci:${layout}:v1`, ref("alicens/rw:v1"), { creds: `token:${secret}` });
    const event = (await env.allEvents("container-registry.image.push")).at(-1)!;
    expect([event.outcome, event.target.name, event.initiator.credential.type]).toEqual([
      "success",
      "alicens/rw:v1",
      "token",
    ]);
    await env.t.db
      .update(registryTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(registryTokens.accountId, env.alice.account.id));
    const expired = await run(
      "skopeo",
      ["inspect", "--tls-verify=false", "--creds", `token:${secret}`, ref("alicens/rw:v1")],
      { env: env.clientEnv },
    );
    expect(expired.code).not.toBe(0);
    expect(expired.stderr).toMatch(/unauthorized|authentication required|401/i);
  });
});

describe("podman", () => {
  it("pulls an image, tags it and pushes it to another repository", async () => {
    const podman = podmanIn(join(env.tmp, "podman"), env.clientEnv).ok;
    const source = `${env.host}/alicens/app:v1`;
    await podman(["pull", "--tls-verify=false", "--creds", apiKeyCreds, source]);
    const [image] = JSON.parse(await podman(["image", "inspect", source])) as {
      Digest: string;
      Architecture: string;
    }[];
    expect(image!.Digest).toBe(layoutRef(layout, "v1").digest);
    const target = `${env.host}/alicens/podman:v1`;
    await podman(["tag", source, target]);
    await podman(["push", "--tls-verify=false", "--creds", apiKeyCreds, target]);
    const info = JSON.parse(await onRef("inspect", "alicens/podman:v1")) as {
      Architecture: string;
      Layers: string[];
    };
    expect(info.Architecture).toBe("amd64");
    expect(info.Layers).toHaveLength(2);
    const push = (await env.allEvents("container-registry.image.push")).at(-1)!;
    expect([push.outcome, push.target.name]).toEqual(["success", "alicens/podman:v1"]);
    expect(push.initiator.host.agent).toMatch(/podman|containers/i);
  });
});

it("wrote only events that validate against core's schema, none for anonymous requests", async () => {
  // allEvents parses every outbox row with eventSchema and throws on the first bad one.
  const events = await env.allEvents();
  expect(events.length).toBeGreaterThan(10);
  expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
  // Clients start with an anonymous ping that is answered 401: counted, not audited.
  const metrics = await (await fetch(`${env.url()}/metrics`)).text();
  expect(metrics).toMatch(
    /berth_unauthenticated_requests_total\{region="us-south",reason="missing"\} [1-9]/,
  );
  expect(events.every((e) => e.initiator.id !== "")).toBe(true);
  // No credential ever reaches the logs or the events: API keys, token secrets, JWTs.
  const logs = env.logs.join("\n");
  expect(logs).not.toContain(env.alice.apiKey);
  expect(logs).not.toContain("berth_rt_");
  expect(logs).not.toMatch(/eyJ[\w-]+\.eyJ/);
  const payloads = JSON.stringify(events);
  expect(payloads).not.toContain(env.alice.apiKey);
  expect(payloads).not.toMatch(/eyJ[\w-]+\.eyJ|berth_rt_/);
});
