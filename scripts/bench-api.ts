/**
 * API benchmark (issue 15): `pnpm bench:api [--seconds 10] [--connections 16] [--runs 1]
 *   [--only whoami,quota] [--profile dir]`.
 *
 * Requests/s, p50/p99, the server's CPU and its Postgres backends' CPU per request, with autocannon's concurrent
 * connections, of: /healthz (the HTTP stack alone), `whoami` (authenticated, unaudited),
 * `quota.get` (an audited read), `namespace.create` + `namespace.delete` (audited writes) and
 * a manifest GET with a bearer token (an audited `image.pull`) against Berth and the
 * reference registry (`docker-registry serve`, no auth) side by side. The audited calls run
 * again against a second Berth server process started with BERTH_BENCH_UNAUDITED=1 (the same
 * transaction without its events), and the cost of the audit prints as a percentage.
 * The runs of the measures compared with each other (audited, unaudited, the reference) are
 * interleaved, and the percentage and the ratio to the reference are taken run by run, their
 * median and range printed: drift of a shared machine falls on both sides of a ratio alike.
 *
 * On a shared machine requests/s mostly measure the neighbours: the server's CPU per
 * request (from /proc, user + system) is the figure to compare between changes.
 * Berth runs on DATABASE_URL's server (a fresh database) or an embedded Postgres.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createDb } from "@berth/db";
import {
  benchDatabase,
  childrenOf,
  cpuOfTree,
  cpuSeconds,
  type Image,
  loadText,
  median,
  OCI_MANIFEST,
  pushImage,
  putManifest,
  randomImage,
  runScript,
  type ServiceProcess,
  sha256,
  startReferenceRegistry,
  startServerProcess,
} from "@berth/harness";
import { createAccount } from "@berth/registry";
import autocannon from "autocannon";

const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "10" },
    connections: { type: "string", default: "16" },
    /** Measure each call this many times; the figures are the medians, with the range. */
    runs: { type: "string", default: "1" },
    /** Write CPU profiles of both Berth server processes into DIR/audited and DIR/unaudited. */
    profile: { type: "string" },
    /** Run only the measures whose name contains one of these comma-separated words. */
    only: { type: "string" },
  },
});
const SECONDS = Number(args.seconds);
const CONNECTIONS = Number(args.connections);
const RUNS = Number(args.runs);
if (
  !(
    SECONDS > 0 &&
    SECONDS <= 120 &&
    CONNECTIONS > 0 &&
    CONNECTIONS <= 256 &&
    Number.isInteger(RUNS) &&
    RUNS >= 1 &&
    RUNS <= 9
  )
) {
  console.error(
    "usage: pnpm bench:api [--seconds 10 (≤120)] [--connections 16 (≤256)] [--runs 1 (≤9)] [--only word,…] [--profile dir]",
  );
  process.exit(2);
}

const tmp = mkdtempSync(join(tmpdir(), "berth-bench-api-"));
const cleanups: (() => Promise<void> | void)[] = [];

/** The reference registry takes no monolithic POST: a session, then one PUT per blob. */
async function pushToReference(base: string, repository: string, image: Image): Promise<void> {
  for (const blob of [image.config, ...image.layers]) {
    const start = await fetch(`${base}/v2/${repository}/blobs/uploads/`, { method: "POST" });
    const location = new URL(start.headers.get("location") ?? "", base);
    location.searchParams.set("digest", sha256(blob));
    const put = await fetch(location, { method: "PUT", body: blob });
    if (put.status !== 201) throw new Error(`reference blob PUT answered ${put.status}`);
  }
  await putManifest(base, repository, "1", image.manifest, { auth: "", requestId: "push" });
}

interface Measured {
  name: string;
  /** Medians over the runs (each field on its own). */
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  /** Server CPU microseconds per request (the process alone, not its database). */
  cpuUs: number;
  /** Postgres CPU microseconds per request: the backends of the benchmark's database. */
  pgUs: number;
  /** The rest of Postgres per request (WAL writer, checkpointer, ...; the whole server's). */
  pgOtherUs: number;
  /** [min, max] over the runs. */
  rpsRange: [number, number];
  cpuUsRange: [number, number];
  pgUsRange: [number, number];
}

/**
 * The Postgres server's CPU seconds: the backends serving the benchmark's database (`ours`,
 * by pid from pg_stat_activity) and every other process of the server (`other`: the
 * postmaster, WAL writer, checkpointer, and on a shared server the neighbours' backends).
 */
interface PgCpu {
  ours: number;
  other: number;
}
let postmaster = 0;
let ourBackends = new Set<number>();
function postgresCpu(): PgCpu {
  const cpu: PgCpu = { ours: 0, other: cpuSeconds(postmaster) };
  for (const pid of childrenOf(postmaster)) {
    cpu[ourBackends.has(pid) ? "ours" : "other"] += cpuSeconds(pid);
  }
  return cpu;
}
let learnBackends: () => Promise<void> = async () => {};

/** One measure of a group: what to load, and the process whose CPU is counted. */
interface Entry {
  name: string;
  pid: number;
  opts: Omit<autocannon.Options, "connections" | "duration">;
  beforeEach?: () => Promise<unknown>;
}

type RunFigures = Omit<Measured, "rpsRange" | "cpuUsRange" | "pgUsRange">;

async function runOnce(e: Entry): Promise<RunFigures> {
  await e.beforeEach?.();
  const before = cpuOfTree(e.pid);
  const pgBefore = postgresCpu();
  const result = await autocannon({ ...e.opts, connections: CONNECTIONS, duration: SECONDS });
  const cpu = cpuOfTree(e.pid) - before;
  const pgAfter = postgresCpu();
  const requests = result.requests.total;
  const perRequest = (seconds: number) => (requests > 0 ? (seconds * 1e6) / requests : Number.NaN);
  return {
    name: e.name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests,
    errors: result.errors + result.timeouts + result.non2xx,
    cpuUs: perRequest(cpu),
    pgUs: perRequest(pgAfter.ours - pgBefore.ours),
    pgOtherUs: perRequest(pgAfter.other - pgBefore.other),
  };
}

const range = (xs: number[]): [number, number] => [Math.min(...xs), Math.max(...xs)];
const spread = (r: [number, number]) =>
  RUNS > 1 ? ` [${r[0].toFixed(0)}–${r[1].toFixed(0)}]` : "";

function summarize(name: string, runs: RunFigures[]): Measured {
  const field = (k: "rps" | "p50" | "p99" | "requests" | "cpuUs" | "pgUs" | "pgOtherUs") =>
    runs.map((r) => r[k]);
  const m: Measured = {
    name,
    rps: median(field("rps")),
    p50: median(field("p50")),
    p99: median(field("p99")),
    requests: median(field("requests")),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    cpuUs: median(field("cpuUs")),
    pgUs: median(field("pgUs")),
    pgOtherUs: median(field("pgOtherUs")),
    rpsRange: range(field("rps")),
    cpuUsRange: range(field("cpuUs")),
    pgUsRange: range(field("pgUs")),
  };
  console.log(
    `  ${name.padEnd(34)} ${m.rps.toFixed(0).padStart(6)} req/s${spread(m.rpsRange)}  p50 ${m.p50.toFixed(0).padStart(4)} ms  p99 ${m.p99.toFixed(0).padStart(5)} ms  server cpu ${m.cpuUs.toFixed(0).padStart(5)} µs/req${spread(m.cpuUsRange)}  postgres ${m.pgUs.toFixed(0).padStart(5)}${spread(m.pgUsRange)} + ${m.pgOtherUs.toFixed(0)} other µs/req  (${m.requests} requests${m.errors ? `, ${m.errors} errors` : ""})`,
  );
  return m;
}

/**
 * Measure a group of entries with their runs interleaved (run 1 of each, then run 2 of each,
 * ...), so that a neighbour's load or the machine's drift falls on all of them alike, and
 * the ratios between them are taken run by run (`paired`).
 */
async function measureGroup(entries: Entry[]): Promise<RunFigures[][]> {
  for (const e of entries) {
    // Warm-up first (the JIT, the connection pool), outside the figures.
    await e.beforeEach?.();
    await autocannon({ ...e.opts, connections: CONNECTIONS, duration: Math.min(2, SECONDS) });
  }
  // The warm-ups opened the pools' connections: their backends are known from now on.
  await learnBackends();
  const runs: RunFigures[][] = entries.map(() => []);
  for (let i = 0; i < RUNS; i++) {
    for (const [k, e] of entries.entries()) runs[k]!.push(await runOnce(e));
  }
  return runs;
}

/** Run by run ratio a/b of two interleaved entries: its median and range. */
function paired(a: RunFigures[], b: RunFigures[]): { median: number; range: [number, number] } {
  const ratios = a.map((r, i) => r.rps / b[i]!.rps);
  return { median: median(ratios), range: range(ratios) };
}

async function main(): Promise<void> {
  console.log(
    `bench:api — ${CONNECTIONS} connections, ${SECONDS} s each, ${cpus().length} cores, load ${loadText()}`,
  );
  const database = await benchDatabase();
  cleanups.push(() => database.close());
  const databaseUrl = database.url;
  const conn = createDb(databaseUrl, { max: 1 });
  cleanups.unshift(() => conn.sql.end({ timeout: 5 }));
  const account = await createAccount(conn.db, { name: "bench" });
  // The server's postmaster: the parent of any backend of ours.
  const [own] = await conn.sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
  postmaster = Number(
    /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${own!.pid}/status`, "utf8"))?.[1],
  );
  learnBackends = async () => {
    const rows = await conn.sql<{ pid: number }[]>`
      select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`;
    ourBackends = new Set(rows.map((r) => r.pid));
  };
  const dataDir = join(tmp, "berth");
  const nodeFlags = (tag: string) =>
    // No --cpu-prof-name: tsx's loader thread writes a profile too, and with one fixed name
    // it would overwrite the main thread's.
    args.profile ? ["--cpu-prof", `--cpu-prof-dir=${join(args.profile, tag)}`] : [];
  const servers: Record<"audited" | "plain", ServiceProcess> = {
    audited: await startServerProcess({
      databaseUrl,
      dataDir,
      logLevel: "warn",
      nodeFlags: nodeFlags("audited"),
    }),
    plain: await startServerProcess({
      databaseUrl,
      dataDir,
      logLevel: "warn",
      nodeFlags: nodeFlags("unaudited"),
      env: { BERTH_BENCH_UNAUDITED: "1" },
    }),
  };
  for (const s of Object.values(servers)) cleanups.unshift(() => s.stop());
  const reference = await startReferenceRegistry();
  cleanups.push(() => reference.close());

  const apiKey = { authorization: `Bearer ${account.apiKey}` };
  const trpc = async (base: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}/trpc/${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { ...apiKey, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${await res.text()}`);
  };
  await trpc(servers.audited.url, "namespace.create", { name: "bench" });
  const bearer = async (base: string, scope: string) => {
    const res = await fetch(`${base}/token?service=berth&scope=${encodeURIComponent(scope)}`, {
      headers: {
        authorization: `Basic ${Buffer.from(`iamapikey:${account.apiKey}`).toString("base64")}`,
      },
    });
    if (!res.ok) throw new Error(`/token answered ${res.status}: ${await res.text()}`);
    return `Bearer ${((await res.json()) as { token: string }).token}`;
  };
  const image = randomImage([1024, 2048]);
  const pushAuth = await bearer(servers.audited.url, "repository:bench/tiny:push,pull");
  await pushImage(servers.audited.url, "bench/tiny", "1", image, {
    auth: pushAuth,
    requestId: "bench-api-push",
  });
  await pushToReference(reference.url, "bench/tiny", image);

  const manifestGet = (base: string, authorization?: string) => ({
    url: `${base}/v2/bench/tiny/manifests/1`,
    headers: { accept: OCI_MANIFEST, ...(authorization ? { authorization } : {}) },
  });
  // A namespace per connection and round: created, then deleted, by the same connection.
  let serial = 0;
  const createDelete = (base: string) => ({
    url: base,
    requests: [
      {
        method: "POST" as const,
        setupRequest: (req: autocannon.Request, context: object) => {
          (context as { ns?: string }).ns = `bench-${process.pid}-${serial++}`;
          return {
            ...req,
            path: "/trpc/namespace.create",
            headers: { ...apiKey, "content-type": "application/json" },
            body: JSON.stringify({ name: (context as { ns?: string }).ns }),
          };
        },
      },
      {
        method: "POST" as const,
        setupRequest: (req: autocannon.Request, context: object) => ({
          ...req,
          path: "/trpc/namespace.delete",
          headers: { ...apiKey, "content-type": "application/json" },
          body: JSON.stringify({ name: (context as { ns?: string }).ns }),
        }),
      },
    ],
  });

  const results: Record<string, Measured> = {};
  const runsOf: Record<string, RunFigures[]> = {};
  const only = args.only?.split(",").filter(Boolean);
  const group = async (...entries: Entry[]) => {
    const chosen = entries.filter((e) => !only || only.some((word) => e.name.includes(word)));
    if (chosen.length === 0) return;
    const runs = await measureGroup(chosen);
    chosen.forEach((e, k) => {
      runsOf[e.name] = runs[k]!;
      results[e.name] = summarize(e.name, runs[k]!);
    });
  };
  // A run ends with some connections between their create and delete: those namespaces
  // would pile up to the limit of 100 per region over a few runs.
  const clear = () => conn.sql`delete from namespaces where name like 'bench-%'`;
  const a = servers.audited;
  const p = servers.plain;
  console.log(`load ${loadText()}`);
  await group({ name: "healthz", pid: a.pid, opts: { url: `${a.url}/healthz` } });
  await group({
    name: "whoami",
    pid: a.pid,
    opts: { url: `${a.url}/trpc/whoami`, headers: apiKey },
  });
  // Audited and unaudited interleaved run by run, so both see the same neighbours.
  await group(
    { name: "quota.get", pid: a.pid, opts: { url: `${a.url}/trpc/quota.get`, headers: apiKey } },
    {
      name: "quota.get (unaudited)",
      pid: p.pid,
      opts: { url: `${p.url}/trpc/quota.get`, headers: apiKey },
    },
  );
  await group(
    { name: "namespace.create+delete", pid: a.pid, opts: createDelete(a.url), beforeEach: clear },
    {
      name: "namespace.create+delete (unaudited)",
      pid: p.pid,
      opts: createDelete(p.url),
      beforeEach: clear,
    },
  );
  const pullA = await bearer(a.url, "repository:bench/tiny:pull");
  const pullP = await bearer(p.url, "repository:bench/tiny:pull");
  await group(
    { name: "manifest GET", pid: a.pid, opts: manifestGet(a.url, pullA) },
    { name: "manifest GET (unaudited)", pid: p.pid, opts: manifestGet(p.url, pullP) },
    { name: "manifest GET reference", pid: reference.pid, opts: manifestGet(reference.url) },
  );
  console.log(`load ${loadText()}`);

  const failed = Object.values(results).filter((m) => m.errors > 0);
  if (failed.length > 0) {
    throw new Error(`errors in: ${failed.map((m) => m.name).join(", ")}`);
  }
  const r = (k: string) => results[k]!;
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  const costs: string[] = [];
  for (const k of ["quota.get", "namespace.create+delete", "manifest GET"]) {
    const plainKey = `${k} (unaudited)`;
    if (!runsOf[k] || !runsOf[plainKey]) continue;
    const audited = r(k);
    const plain = r(plainKey);
    const kept = paired(runsOf[k]!, runsOf[plainKey]!);
    const more = (x: number, y: number) => pct((x - y) / y);
    costs.push(
      `  ${k}: audit costs ${pct(1 - kept.median)} of throughput${RUNS > 1 ? ` [${pct(1 - kept.range[1])}–${pct(1 - kept.range[0])}] (median and range of ${RUNS} paired runs)` : ""}, ${more(audited.cpuUs, plain.cpuUs)} more server cpu per request, ${more(audited.cpuUs + audited.pgUs + audited.pgOtherUs, plain.cpuUs + plain.pgUs + plain.pgOtherUs)} more server + postgres cpu`,
    );
  }
  if (costs.length > 0)
    console.log(["audit cost (target ≤ 15% of throughput):", ...costs].join("\n"));
  if (runsOf["manifest GET"] && runsOf["manifest GET reference"]) {
    const vs = paired(runsOf["manifest GET"], runsOf["manifest GET reference"]);
    console.log(
      `manifest GET berth / reference: ${vs.median.toFixed(2)}×${RUNS > 1 ? ` [${vs.range[0].toFixed(2)}–${vs.range[1].toFixed(2)}] (median and range of ${RUNS} paired runs)` : ""} (target ≥ 0.8×)`,
    );
  }
  if (results.whoami && results["quota.get"]) {
    console.log(
      `targets: whoami ${r("whoami").rps.toFixed(0)} req/s (≥ 3,000), quota.get ${r("quota.get").rps.toFixed(0)} req/s (≥ 1,000)`,
    );
  }
}

runScript(main, cleanups, tmp);
