import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { forFile } from "./helpers";
import { imageManifest, MEDIA, sha256 } from "./oci-client";
import { clientEnvIn, ok, podmanIn, requireTool, umociImage } from "./oci-helpers";
import { type ServerProcess, startProcessBed, startServerProcess } from "./upload-processes";

// Several server processes on one database and one bucket (moto_server on loopback), as
// behind a load balancer: an upload's chunks land on different processes, and real clients
// push and pull through S3-backed servers, with blob GETs redirected to the bucket (A, B) and
// served by the process (C, BERTH_BLOB_REDIRECTS=off).

const MiB = 1024 * 1024;

await Promise.all(["skopeo", "podman", "umoci"].map(requireTool));
const bed = await forFile(startProcessBed());
// One token secret for all three, as behind a load balancer.
const processEnv = bed.s3Env(await bed.moto.bucket());
const [A, B, C] = await Promise.all([
  startServerProcess(processEnv),
  startServerProcess(processEnv),
  startServerProcess({ ...processEnv, BERTH_BLOB_REDIRECTS: "off" }),
]);
const { client } = bed;

/** PATCH a chunk through `p`, which must take it; returns the upload's next location. */
async function patch(p: ServerProcess, location: string, bytes: Buffer, start: number) {
  const r = await bed.patch(p, location, bytes, start);
  expect(r.status, `PATCH on ${p.host}: ${await r.clone().text()}`).toBe(202);
  return r.headers.get("location")!;
}

/** GET a blob through `p`: the bytes, and whether the process redirected to the bucket. */
async function pull(p: ServerProcess, repo: string, digest: string) {
  const r = await client(p).request("GET", `/v2/${repo}/blobs/${digest}`);
  if (r.status === 307) {
    const location = r.headers.get("location")!;
    const bytes = Buffer.from(await (await fetch(location)).arrayBuffer());
    return { redirected: new URL(location).origin, bytes };
  }
  expect(r.status, await r.clone().text()).toBe(200);
  return { redirected: null, bytes: Buffer.from(await r.arrayBuffer()) };
}

describe("many server processes on one database and one bucket", () => {
  it("takes an upload's chunks on alternating processes and serves the image from a third", async () => {
    const repo = "alicens/alternating";
    const layer = randomBytes(13 * MiB + 12_345);
    const cuts = [0, 6 * MiB, 6 * MiB + 100, 12 * MiB, layer.length];
    const start = await client(A).request("POST", `/v2/${repo}/blobs/uploads/`);
    expect(start.status, await start.clone().text()).toBe(202);
    let location = start.headers.get("location")!;
    for (let i = 0; i + 1 < cuts.length; i++) {
      const p = i % 2 === 0 ? A : B;
      location = await patch(p, location, layer.subarray(cuts[i], cuts[i + 1]), cuts[i]!);
    }
    const digest = sha256(layer);
    const put = await client(B).request("PUT", `${location}?digest=${digest}`);
    expect(put.status, await put.clone().text()).toBe(201);
    const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux" }));
    const configDigest = await client(A).pushBlob(repo, config);
    const manifest = Buffer.from(
      JSON.stringify(
        imageManifest({ digest: configDigest, size: config.length }, [
          { digest, size: layer.length },
        ]),
      ),
    );
    const m = await client(B).putManifest(repo, "v1", manifest.toString(), MEDIA.ociManifest);
    expect(m.status, await m.clone().text()).toBe(201);
    const got = await client(C).request("GET", `/v2/${repo}/manifests/v1`, {
      headers: { accept: MEDIA.ociManifest },
    });
    expect(Buffer.from(await got.arrayBuffer()).equals(manifest)).toBe(true);
    // Bytes that do not match their digest are refused on any process; nothing becomes visible.
    const other = await client(A).request("POST", `/v2/${repo}/blobs/uploads/`);
    const wrong = sha256(Buffer.from("not these bytes"));
    const bad = await client(B).request("PUT", `${other.headers.get("location")}?digest=${wrong}`, {
      body: randomBytes(1000),
      headers: { "content-type": "application/octet-stream" },
    });
    expect(bad.status).toBe(400);
    expect((await client(C).request("HEAD", `/v2/${repo}/blobs/${wrong}`)).status).toBe(404);
    const viaC = await pull(C, repo, digest);
    expect(viaC.redirected).toBeNull();
    expect(viaC.bytes.equals(layer)).toBe(true);
    const viaA = await pull(A, repo, digest);
    expect(viaA.redirected).toBe(bed.moto.endpoint);
    expect(viaA.bytes.equals(layer)).toBe(true);
    // Ranges are served by the process even where redirects are on.
    const ranged = await client(A).request("GET", `/v2/${repo}/blobs/${digest}`, {
      headers: { range: "bytes=10-19" },
    });
    expect(ranged.status).toBe(206);
    expect(Buffer.from(await ranged.arrayBuffer()).equals(layer.subarray(10, 20))).toBe(true);
  }, 240_000);

  it("lets skopeo push through one process and pull through the others, redirected or not", async () => {
    const layout = mkdtempSync(join(tmpdir(), "berth-s3-layout-"));
    await umociImage(join(layout, "img"), "v1", {
      layers: [{ big: randomBytes(6 * MiB + 5) }, { small: "hello" }],
    });
    const creds = `iamapikey:${bed.alice.apiKey}`;
    const skopeo = (args: string[]) => ok("skopeo", ["--insecure-policy", ...args]);
    const tls = ["--dest-tls-verify=false", `--dest-creds=${creds}`];
    await skopeo([
      "copy",
      ...tls,
      `oci:${join(layout, "img")}:v1`,
      `docker://${A.host}/alicens/sk:v1`,
    ]);
    for (const [p, name] of [
      [B, "b"],
      [C, "c"],
    ] as const) {
      await skopeo([
        "copy",
        "--src-tls-verify=false",
        `--src-creds=${creds}`,
        `docker://${p.host}/alicens/sk:v1`,
        `oci:${join(layout, name)}:v1`,
      ]);
    }
    const inspect = async (name: string) =>
      ok("skopeo", ["inspect", "--raw", `oci:${join(layout, name)}:v1`]);
    expect(await inspect("b")).toBe(await inspect("c"));
  }, 240_000);

  it("lets podman push through one process and pull through the others, redirected or not", async () => {
    // Lowercase (podman names an image pulled from a layout after its path).
    const tmp = join(tmpdir(), `berth-s3-podman-${randomBytes(6).toString("hex")}`);
    const env = clientEnvIn(tmp);
    // Each pull into an empty image store of its own, so the bytes come from the registry.
    const podman = (store: string, args: string[]) => podmanIn(join(tmp, store), env).ok(args);
    const creds = ["--tls-verify=false", "--creds", `iamapikey:${bed.alice.apiKey}`];
    await umociImage(join(tmp, "img"), "v1", {
      layers: [{ big: randomBytes(6 * MiB + 11) }, { small: "podman" }],
    });
    await podman("a", ["pull", `oci:${join(tmp, "img")}:v1`]);
    const [local] = JSON.parse(await podman("a", ["images", "--format", "json"])) as {
      Id: string;
    }[];
    await podman("a", ["push", ...creds, local!.Id, `docker://${A.host}/alicens/pm:v1`]);
    const ids: string[] = [];
    for (const [p, store] of [
      [B, "b"],
      [C, "c"],
    ] as const) {
      await podman(store, ["pull", ...creds, `${p.host}/alicens/pm:v1`]);
      const [image] = JSON.parse(
        await podman(store, ["image", "inspect", `${p.host}/alicens/pm:v1`]),
      ) as { Id: string; RootFS: { Layers: string[] } }[];
      expect(image!.RootFS.Layers, `layers pulled through ${p.host}`).toHaveLength(2);
      ids.push(image!.Id);
    }
    // The same image (its config's digest) whether the blobs came from the bucket or the process.
    expect(ids).toEqual([local!.Id, local!.Id]);
  }, 420_000);
});
