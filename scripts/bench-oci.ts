/**
 * Over 400 lines: image building, both registries' lifecycles, the interleaved runs and the
 * per-request log summary belong to one measurement and are read together.
 *
 * OCI benchmark (issues 5, 15): `pnpm bench:oci [--mb 50] [--layers 5] [--runs 5] [--log file]
 * [--against DIR]`.
 *
 * Builds OCI image layouts of about `mb` MB in `layers` layers of incompressible data
 * (gzip streams of stored blocks, so skopeo neither recompresses nor shrinks them), then
 * pushes and pulls each with skopeo against Berth (its server process, on the embedded
 * Postgres or DATABASE_URL, filesystem blob store, bearer-token auth as clients use it)
 * and against the reference registry (`docker-registry serve`, filesystem storage, no
 * auth), both on 127.0.0.1 in temporary folders. Every run uses a fresh image, so neither registry ever
 * has the blobs already; the order of the two registries alternates between runs.
 *
 * Prints the time of each push and pull, the medians and the ratio Berth / reference.
 * Every wait is bounded.
 *
 * Over 400 lines: one benchmark, read top to bottom (image layouts, the two registries, the
 * runs); what other scripts share lives in @berth/harness.
 */
import { execFile, spawn } from "node:child_process";
import { createCipheriv, createHash } from "node:crypto";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import { createDb, ensureDatabase, freePort, migrate, startEmbeddedPostgres } from "@berth/db";
import {
  cpuOfTree,
  freshDatabase,
  median,
  runScript,
  startReferenceRegistry,
} from "@berth/harness";
import { createAccount, createNamespace, FsBlobStore } from "@berth/registry";
import { apiKeyPrincipal, testContext } from "@berth/registry/testing";

const { values: args } = parseArgs({
  options: {
    mb: { type: "string", default: "50" },
    layers: { type: "string", default: "5" },
    runs: { type: "string", default: "5" },
    /**
     * Write Berth's request log (info level) to this file, to see where the time goes: the
     * summary then adds the server's time per kind of request over all runs.
     */
    log: { type: "string" },
    /** Write a CPU profile of the Berth server process into this folder. */
    profile: { type: "string" },
    /**
     * Another checkout of Berth (with its node_modules) to run as a third registry in the
     * same runs, on the same Postgres: a change measured A/B under the same load, whatever
     * the neighbours do. Prints Berth / that checkout beside Berth / reference.
     */
    against: { type: "string" },
  },
});
const TOTAL_MB = Number(args.mb);
const LAYERS = Number(args.layers);
const RUNS = Number(args.runs);
if (!(TOTAL_MB > 0 && LAYERS > 0 && RUNS > 0)) {
  console.error("usage: pnpm bench:oci [--mb 50] [--layers 5] [--runs 5] [--against DIR]");
  process.exit(2);
}

const root = fileURLToPath(new URL("..", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "berth-bench-oci-"));
chmodSync(tmp, 0o755);
const cleanups: (() => Promise<void> | void)[] = [];

function exec(cmd: string, argv: string[], timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout: timeoutMs, maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${argv.join(" ")}: ${error.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

async function requireTool(name: string): Promise<void> {
  await exec("sh", ["-c", `command -v ${name}`]).catch(() => {
    throw new Error(`${name} is required: apt-get install ${name}`);
  });
}

/** Deterministic incompressible bytes: AES-CTR over zeros, keyed by the seed. */
function noise(seed: string, size: number): Buffer {
  const key = createHash("sha256").update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv("aes-128-ctr", key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}

/** A one-file tar archive. */
function tar(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, "utf8");
  header.write("0000644\0", 100);
  header.write("0000000\0", 108);
  header.write("0000000\0", 116);
  header.write(`${content.length.toString(8).padStart(11, "0")}\0`, 124);
  header.write("00000000000\0", 136);
  header.write("        ", 148);
  header.write("0", 156);
  header.write("ustar\0", 257);
  header.write("00", 263);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  const pad = Buffer.alloc((512 - (content.length % 512)) % 512);
  return Buffer.concat([header, content, pad, Buffer.alloc(1024)]);
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** An OCI layout `dir` with tag `img`: `layers` layers, `mb` MB in all. */
function buildLayout(dir: string, seed: string): { bytes: number } {
  const blobs = join(dir, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  const put = (bytes: Buffer) => {
    const digest = sha256(bytes);
    writeFileSync(join(blobs, digest.slice(7)), bytes);
    return { digest, size: bytes.length };
  };
  const layerSize = Math.floor((TOTAL_MB * 1024 * 1024) / LAYERS);
  const layers: { digest: string; size: number }[] = [];
  const diffIds: string[] = [];
  let bytes = 0;
  for (let i = 0; i < LAYERS; i++) {
    const raw = tar(`data/layer${i}.bin`, noise(`${seed}/${i}`, layerSize));
    // Level 0: a real gzip stream of stored blocks, as large as the data.
    const gz = gzipSync(raw, { level: 0 });
    layers.push(put(gz));
    diffIds.push(sha256(raw));
    bytes += gz.length;
  }
  const config = put(
    Buffer.from(
      JSON.stringify({
        architecture: "amd64",
        os: "linux",
        config: { Cmd: ["/bin/true"] },
        rootfs: { type: "layers", diff_ids: diffIds },
      }),
    ),
  );
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
        layers: layers.map((l) => ({
          mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
          ...l,
        })),
      }),
    ),
  );
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifest,
          annotations: { "org.opencontainers.image.ref.name": "img" },
        },
      ],
    }),
  );
  return { bytes: bytes + config.size + manifest.size };
}

async function waitFor(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.status === 200 || r.status === 401) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The Postgres both Berth servers use: the embedded one, started here, or DATABASE_URL's. */
async function startPostgres(): Promise<{
  database(name: string): Promise<string>;
  cpu(): number;
}> {
  if (process.env.DATABASE_URL) {
    const admin = process.env.DATABASE_URL;
    return {
      // A database of its own on that server, dropped at the end: runs never meet each
      // other's accounts and namespaces.
      async database() {
        const fresh = await freshDatabase(admin);
        cleanups.push(() => fresh.drop());
        return fresh.url;
      },
      cpu: () => 0,
    };
  }
  const pg = await startEmbeddedPostgres({ dataDir: join(tmp, "pg"), persistent: false });
  cleanups.push(() => pg.stop());
  const postmaster = Number(readFileSync(join(tmp, "pg", "postmaster.pid"), "utf8").split("\n")[0]);
  return {
    async database(name) {
      const url = await ensureDatabase(pg.url, name);
      await migrate(url);
      return url;
    },
    cpu: () => cpuOfTree(postmaster),
  };
}

/**
 * Berth as it runs in production: its own server process (`apps/server/src/main.ts` of
 * `checkout`) on a database of its own and a filesystem blob store, with an account and a
 * namespace made through the use cases beforehand.
 */
async function startBerth(
  label: string,
  checkout: string,
  pg: Awaited<ReturnType<typeof startPostgres>>,
): Promise<Target> {
  const url = await pg.database(`berth_${label}`);
  const { db, sql } = createDb(url, { max: 2 });
  cleanups.unshift(() => sql.end({ timeout: 5 }));
  const dataDir = join(tmp, label);
  const account = await createAccount(db, { name: "bench" });
  await createNamespace(
    testContext({
      db,
      store: new FsBlobStore(join(dataDir, "blobs")),
      principal: apiKeyPrincipal(account.account, account.user),
    }),
    { name: "bench" },
  );
  const port = await freePort();
  const main = label === "berth";
  const child = spawn(
    process.execPath,
    [
      ...(main && args.profile ? ["--cpu-prof", `--cpu-prof-dir=${args.profile}`] : []),
      "--import",
      "tsx",
      "apps/server/src/main.ts",
    ],
    {
      cwd: checkout,
      env: {
        ...process.env,
        DATABASE_URL: url,
        BERTH_DATA_DIR: dataDir,
        BERTH_HOST: "127.0.0.1",
        BERTH_PORT: String(port),
        BERTH_LOG_LEVEL: main && args.log ? "info" : "warn",
      },
      stdio: ["ignore", main && args.log ? openSync(args.log, "w") : "ignore", "inherit"],
    },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  cleanups.unshift(async () => {
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  });
  await waitFor(`http://127.0.0.1:${port}/healthz`, 60_000);
  const pid = child.pid!;
  return {
    host: `127.0.0.1:${port}`,
    creds: [`iamapikey:${account.apiKey}`],
    // The database's CPU is shared by both Berth servers when there are two.
    cpu: () => cpuOfTree(pid) + pg.cpu(),
  };
}

type Name = "reference" | "berth" | "against";

interface Target {
  host: string;
  creds: string[];
  /** CPU seconds used so far by the registry (and its database, for Berth). */
  cpu(): number;
}

async function timed(target: Target, fn: () => Promise<unknown>): Promise<[number, number]> {
  const cpu = target.cpu();
  const start = process.hrtime.bigint();
  await fn();
  return [Number(process.hrtime.bigint() - start) / 1e9, target.cpu() - cpu];
}

/**
 * Berth's time per kind of request (method, endpoint, status) over all runs, from its request
 * log: which requests a push and a pull spend their time in (skopeo sends them one at a time
 * during a push, so their times add up to most of it).
 */
function requestTimes(logFile: string): string[] {
  const started = new Map<string, string>();
  const byKind = new Map<string, number[]>();
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    let entry: {
      reqId?: string;
      req?: { method: string; url: string };
      res?: { statusCode: number };
      responseTime?: number;
    };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    if (!entry.reqId) continue;
    if (entry.req) {
      const path = entry.req.url
        .split("?", 1)[0]!
        .replace(/^\/v2\/bench\/img\d+/, "")
        .replace(/sha256:[0-9a-f]{64}/, "<digest>")
        .replace(/uploads\/[^/]+$/, "uploads/<id>")
        .replace(/manifests\/[^/]+$/, "manifests/<ref>");
      started.set(entry.reqId, `${entry.req.method} ${path}`);
    } else if (entry.res && entry.responseTime !== undefined && started.has(entry.reqId)) {
      const kind = `${started.get(entry.reqId)} ${entry.res.statusCode}`;
      byKind.set(kind, [...(byKind.get(kind) ?? []), entry.responseTime]);
    }
  }
  return [...byKind]
    .sort((a, b) => b[1].reduce((x, y) => x + y, 0) - a[1].reduce((x, y) => x + y, 0))
    .map(
      ([kind, ms]) =>
        `${kind.padEnd(44)} ${String(ms.length).padStart(4)}×  median ${median(ms).toFixed(1).padStart(7)} ms  total ${(ms.reduce((x, y) => x + y, 0) / RUNS).toFixed(0).padStart(6)} ms a run`,
    );
}

async function main(): Promise<void> {
  await requireTool("skopeo");
  await requireTool("docker-registry");
  console.log(
    `bench:oci — ${TOTAL_MB} MB in ${LAYERS} layers, ${RUNS} runs, ${cpus().length} cores, load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
  );
  const pg = await startPostgres();
  const [registry, berth, against] = await Promise.all([
    startReferenceRegistry({ deletes: true }),
    startBerth("berth", root, pg),
    args.against ? startBerth("against", args.against, pg) : undefined,
  ]);
  cleanups.push(() => registry.close());
  const reference: Target = {
    host: new URL(registry.url).host,
    creds: [],
    cpu: () => cpuOfTree(registry.pid),
  };
  const targets: Partial<Record<Name, Target>> = { reference, berth, against };
  const names = (Object.keys(targets) as Name[]).filter((n) => targets[n]);
  type Figures = { push: number[]; pull: number[]; pushCpu: number[]; pullCpu: number[] };
  const empty = (): Figures => ({ push: [], pull: [], pushCpu: [], pullCpu: [] });
  const times: Record<Name, Figures> = { reference: empty(), berth: empty(), against: empty() };
  for (let run = 0; run < RUNS; run++) {
    const layout = join(tmp, `image-${run}`);
    const { bytes } = buildLayout(layout, `run-${run}`);
    // Each registry goes first as often as the others.
    const order = names.map((_, i) => names[(i + run) % names.length]!);
    if (names.length === 2 && run % 2 === 1) order.reverse();
    for (const name of order) {
      const t = targets[name]!;
      const ref = `docker://${t.host}/bench/img${run}:1`;
      const [push, pushCpu] = await timed(t, () =>
        exec("skopeo", [
          "copy",
          "--quiet",
          "--dest-tls-verify=false",
          ...(t.creds.length ? ["--dest-creds", t.creds[0]!] : []),
          `oci:${layout}:img`,
          ref,
        ]),
      );
      const out = join(tmp, `pulled-${name}-${run}`);
      const [pull, pullCpu] = await timed(t, () =>
        exec("skopeo", [
          "copy",
          "--quiet",
          "--src-tls-verify=false",
          ...(t.creds.length ? ["--src-creds", t.creds[0]!] : []),
          ref,
          `oci:${out}:img`,
        ]),
      );
      rmSync(out, { recursive: true, force: true });
      const f = times[name];
      f.push.push(push);
      f.pull.push(pull);
      f.pushCpu.push(pushCpu);
      f.pullCpu.push(pullCpu);
      console.log(
        `run ${run + 1}  ${name.padEnd(9)}  push ${push.toFixed(3)} s (cpu ${pushCpu.toFixed(2)} s)  pull ${pull.toFixed(3)} s (cpu ${pullCpu.toFixed(2)} s)  ${(bytes / 1048576).toFixed(1)} MB`,
      );
    }
    rmSync(layout, { recursive: true, force: true });
  }
  const range = (xs: number[], digits: number) =>
    `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
  const row = (what: "push" | "pull", other: Name = "reference") => {
    const b = median(times.berth[what]);
    const r = median(times[other][what]);
    const bc = median(times.berth[`${what}Cpu`]);
    const rc = median(times[other][`${what}Cpu`]);
    // On a shared machine the time ratio measures the neighbours too; the cpu ratio less so.
    return `${what}  berth ${b.toFixed(3)} s (${range(times.berth[what], 3)})  ${other} ${r.toFixed(3)} s (${range(times[other][what], 3)})  time ratio ${(b / r).toFixed(2)}×  cpu ratio ${(bc / rc).toFixed(2)}×   (registry cpu: berth ${bc.toFixed(2)} s, ${other} ${rc.toFixed(2)} s)`;
  };
  console.log(
    `median of ${RUNS} interleaved runs, range in brackets (time from skopeo's start to its exit; cpu of the registry process, and of its database for Berth), load ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}:`,
  );
  console.log(`  ${row("push")}`);
  console.log(`  ${row("pull")}`);
  if (against) {
    console.log(`berth against ${args.against} (same runs):`);
    console.log(`  ${row("push", "against")}`);
    console.log(`  ${row("pull", "against")}`);
  }
  if (args.log) {
    console.log("berth's time per kind of request (from its log):");
    for (const line of requestTimes(args.log)) console.log(`  ${line}`);
  }
}

runScript(main, cleanups, tmp);
