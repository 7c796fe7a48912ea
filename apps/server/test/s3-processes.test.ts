import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import { type CreatedAccount, createAccount, createNamespace } from "@berth/registry";
import { apiKeyPrincipal, type Moto, startMoto, testContext } from "@berth/registry/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { imageManifest, MEDIA, OciClient, sha256 } from "./oci-client";
import { ok, requireTool, umociImage } from "./oci-helpers";

// Several server processes on one database and one bucket (moto_server on loopback), as
// behind a load balancer: an upload's chunks land on different processes, and real clients
// push and pull through S3-backed servers, with blob GETs redirected to the bucket (A, B) and
// served by the process (C, BERTH_BLOB_REDIRECTS=off).

const root = fileURLToPath(new URL("..", import.meta.url));
const tsx = join(root, "node_modules", ".bin", "tsx");
const MiB = 1024 * 1024;

interface Proc {
  child: ChildProcess;
  url: string;
  host: string;
  stderr: string[];
}

let t: TestDatabase;
let moto: Moto;
let bucket: string;
let alice: CreatedAccount;
const procs: Proc[] = [];
const secret = randomBytes(32).toString("hex");

async function startProcess(env: Record<string, string>): Promise<Proc> {
  const child = spawn(tsx, [join("src", "main.ts")], {
    cwd: root,
    env: {
      ...process.env,
      ...moto.env,
      DATABASE_URL: t.url,
      BERTH_DATA_DIR: mkdtempSync(join(tmpdir(), "berth-proc-")),
      BERTH_REGIONS: "us-south=0",
      BERTH_LOG_LEVEL: "info",
      BERTH_STORAGE: `s3://${bucket}/berth`,
      BERTH_TOKEN_SECRET: secret,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
    // Its own process group: tsx runs the server in a child, and both must go at the end.
    detached: true,
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout!.on("data", (d) => stdout.push(String(d)));
  child.stderr!.on("data", (d) => stderr.push(String(d)));
  // Bounded: three minutes for a process to start on a busy machine.
  for (let i = 0; i < 1800; i++) {
    const m = /listening on (http:\/\/[0-9.:]+)/.exec(stdout.join(""));
    if (m) {
      const proc = { child, url: m[1]!, host: new URL(m[1]!).host, stderr };
      procs.push(proc);
      return proc;
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (child.pid) process.kill(-child.pid, "SIGKILL");
  throw new Error(`server process did not start: ${stderr.join("")}${stdout.join("")}`);
}

let A: Proc;
let B: Proc;
let C: Proc;
const client = (p: Proc) => OciClient.basic(p.url, "iamapikey", alice.apiKey);

beforeAll(async () => {
  await Promise.all(["skopeo", "umoci"].map(requireTool));
  moto = await startMoto();
  bucket = await moto.bucket();
  t = await createTestDatabase();
  alice = await createAccount(t.db, { name: "alice", userName: "alice@example.com" });
  await createNamespace(
    testContext({
      db: t.db,
      // Namespaces touch no blob; the processes have their own stores.
      store: undefined as never,
      principal: apiKeyPrincipal(alice.account, alice.user),
      region: "us-south",
      requestId: "setup",
    }),
    { name: "alicens" },
  );
  [A, B, C] = await Promise.all([
    startProcess({}),
    startProcess({}),
    startProcess({ BERTH_BLOB_REDIRECTS: "off" }),
  ]);
}, 600_000);

afterAll(async () => {
  const exits = procs.map((p) =>
    p.child.exitCode === null ? new Promise((r) => p.child.once("exit", r)) : null,
  );
  for (const p of procs) if (p.child.pid) process.kill(-p.child.pid, "SIGTERM");
  await Promise.all(exits);
  await moto?.stop();
  await t?.drop();
});

async function patch(p: Proc, location: string, bytes: Buffer, start: number) {
  const r = await client(p).request("PATCH", location, {
    body: bytes,
    headers: {
      "content-type": "application/octet-stream",
      "content-range": `${start}-${start + bytes.length - 1}`,
    },
  });
  expect(r.status, `PATCH on ${p.host}: ${await r.clone().text()}`).toBe(202);
  return r.headers.get("location")!;
}

/** GET a blob through `p`: the bytes, and whether the process redirected to the bucket. */
async function pull(p: Proc, repo: string, digest: string) {
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
    expect(viaA.redirected).toBe(moto.endpoint);
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
    const creds = `iamapikey:${alice.apiKey}`;
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
});
