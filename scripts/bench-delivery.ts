/**
 * Over 400 lines: one script runs the three phases (throughput, latency, the peer) and their
 * CPU attribution, so one run prints figures taken under the same conditions.
 *
 * Delivery benchmark (issues 6, 15, 16): `pnpm bench:delivery [--events N] [--runs R] [--rate R/s]
 * [--seconds S] [--warmup W] [--skip-graphile] [--batch B] [--concurrency C] [--node-flags "<V8 flags>"]
 * [--profile-dir D]`.
 *
 * Two tracker processes run side by side: one as deployed (every event enters its account
 * domain's verifiable log) and one started with the benchmark-only BERTH_BENCH_UNLOGGED=1
 * (events stored without the log), so the log's cost is a printed percentage.
 *
 * 1. Throughput, R rounds (default 3), each: enqueue N events (default 200,000), start a worker
 *    process and time the drain into the logged tracker; the same into the unlogged one; then
 *    graphile-worker processes N no-op jobs on the same Postgres. Interleaved, so that a
 *    neighbour's load falls on all three alike. Medians and ranges are printed, with the CPU
 *    per event of each process (from /proc: robust where a shared machine makes rates noisy).
 * 2. Latency, with each tracker, R runs interleaved: commit events one per transaction at a
 *    steady R/s (default 1,000) for S seconds and measure commit → visible in the tracker
 *    (p50/p99), after W seconds (default 3) at the same rate that are not measured (the worker
 *    process of each run is new). The rate the producer really reached is printed, and flagged when it fell short;
 *    the summary gives each run, the median and the range.
 *
 * The targets line uses the medians. Every wait and loop is bounded in count and time.
 *
 * Over 400 lines: one benchmark, read top to bottom in the order of the figures it prints;
 * what other scripts share lives in @berth/harness.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { type AtEvent, buildEvent, type RegionName, uuidV7 } from "@berth/core";
import {
  createDb,
  type EmbeddedServer,
  enqueueEvents,
  migrate,
  startEmbeddedPostgres,
  wakeWorkers,
} from "@berth/db";
import { childrenOf, cpuSeconds, loadText, median, runGraphilePeer } from "@berth/harness";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "200000" },
    runs: { type: "string", default: "3" },
    rate: { type: "string", default: "1000" },
    seconds: { type: "string", default: "15" },
    /** Seconds each latency run produces at the rate, unmeasured, before it measures. */
    warmup: { type: "string", default: "3" },
    "skip-graphile": { type: "boolean", default: false },
    /** Only the latency phase (to iterate on it; no throughput rounds, no targets line). */
    "latency-only": { type: "boolean", default: false },
    /** Checkpoint spacing of the embedded server, as a deployment would set it. */
    "wal-settings": { type: "boolean", default: false },
    /** Worker settings (default: the worker's own defaults). */
    batch: { type: "string" },
    concurrency: { type: "string" },
    /** V8 flags of the worker and tracker processes (those of the apps' `start` scripts). */
    "node-flags": { type: "string", default: "--max-semi-space-size=32" },
    /** Write CPU profiles of the worker and tracker processes under this folder. */
    "profile-dir": { type: "string" },
  },
});
const N = Number(args.events);
const RUNS = Number(args.runs);
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
const WARMUP = Number(args.warmup);
if (!(WARMUP >= 0)) throw new Error("--warmup must be a number of seconds, 0 or more");
if (!Number.isInteger(N) || N <= 0 || !(RATE > 0) || !(SECONDS > 0)) {
  throw new Error("--events, --rate and --seconds must be positive numbers");
}
if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 20) {
  throw new Error("--runs must be a whole number from 1 to 20");
}

const now = () => performance.timeOrigin + performance.now();

/**
 * CPU seconds of this benchmark's Postgres server (the postmaster and its children; other
 * servers on the machine are not counted): client backends, and the rest (vacuum, WAL, ...).
 */
function postgresCpuSeconds(postmaster: number): Record<string, number> {
  const total: Record<string, number> = { background: cpuSeconds(postmaster, true) };
  for (const pid of childrenOf(postmaster)) {
    let title: string;
    try {
      title = readFileSync(`/proc/${pid}/cmdline`, "utf8");
    } catch {
      continue; // gone meanwhile
    }
    // Client backends show "postgres: <user> <database> <host>(<port>) ...", after the
    // cluster's name where it has one (Debian's "15/main: "); which app a backend serves
    // comes from pg_stat_activity (backendApps).
    const key = /^postgres: (?:\S+: )?\S+ \S+ \d/.test(title)
      ? (backendApps.get(pid) ?? "other")
      : "background";
    total[key] = (total[key] ?? 0) + cpuSeconds(pid);
  }
  return total;
}
const backendApps = new Map<number, string>();
async function learnBackends(): Promise<void> {
  const rows = await sql<{ pid: number; app: string }[]>`
    select pid, application_name as app from pg_stat_activity where datname = current_database()`;
  for (const r of rows) backendApps.set(r.pid, r.app || "other");
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

// ---- Postgres ---------------------------------------------------------------------------

let embedded: EmbeddedServer | undefined;
let adminUrl = process.env.DATABASE_URL;
if (!adminUrl) {
  const parent = mkdtempSync(join(tmpdir(), "berth-bench-"));
  chmodSync(parent, 0o755);
  embedded = await startEmbeddedPostgres({ dataDir: join(parent, "data"), persistent: false });
  adminUrl = embedded.url;
}
const dbName = `berth_bench_${randomBytes(4).toString("hex")}`;
const admin = createDb(adminUrl, { max: 1 });
if (embedded && args["wal-settings"]) {
  // The embedded server's defaults (1 GB of WAL between checkpoints) put a checkpoint in the
  // middle of every run, and after it each page touched costs a full-page image in the WAL.
  await admin.sql`alter system set max_wal_size = '8GB'`;
  await admin.sql`alter system set checkpoint_timeout = '30min'`;
  await admin.sql`select pg_reload_conf()`;
}
await admin.sql.unsafe(`create database "${dbName}"`);
const url = new URL(adminUrl);
url.pathname = `/${dbName}`;
const dbUrl = url.toString();
await migrate(dbUrl);
const { db, sql } = createDb(dbUrl, { max: 12 });
// The server's postmaster: the parent of any backend of ours.
const [{ pid: backendPid }] = (await sql<
  { pid: number }[]
>`select pg_backend_pid() as pid`) as unknown as [{ pid: number }];
const postmaster = Number(
  /^PPid:\s+(\d+)/m.exec(readFileSync(`/proc/${backendPid}/status`, "utf8"))?.[1],
);

const children: ChildProcess[] = [];
async function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await sql.end({ timeout: 5 }).catch(() => {});
  await admin.sql.unsafe(`drop database if exists "${dbName}" with (force)`).catch(() => {});
  await admin.sql.end().catch(() => {});
  await embedded?.stop();
}
process.on("SIGINT", () => void cleanup().then(() => process.exit(130)));

/** Start an app's process entry and wait for its ready line. */
async function startApp(app: string, env: Record<string, string>, ready: RegExp, label = app) {
  const profile = args["profile-dir"]
    ? ["--cpu-prof", `--cpu-prof-dir=${args["profile-dir"]}/${label}`]
    : [];
  // A larger young generation (as in the apps' `start` scripts): the batches in flight die
  // young instead of being promoted and collected by full GCs.
  const v8 = args["node-flags"].split(" ").filter(Boolean);
  const child = spawn(process.execPath, [...v8, ...profile, "--import", "tsx", "src/main.ts"], {
    cwd: join(root, "apps", app),
    env: { ...process.env, DATABASE_URL: dbUrl, BERTH_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  let out = "";
  child.stdout!.on("data", (d) => {
    out += d;
  });
  const m = await until(`${app} to start`, 60_000, async () => {
    if (child.exitCode !== null) throw new Error(`${app} exited with ${child.exitCode}`);
    return out.match(ready) ?? undefined;
  });
  return { child, match: m };
}

async function stopApp(child: ChildProcess) {
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([exited, sleep(20_000)]);
}

// ---- events -----------------------------------------------------------------------------

const REGIONS: RegionName[] = ["us-south", "ap-north", "eu-central", "global"];
const templates: AtEvent[] = [];
for (let a = 0; a < 10; a++) {
  for (const region of REGIONS) {
    templates.push(
      buildEvent({
        id: uuidV7(Date.now(), randomBytes(10)),
        time: new Date(),
        action: "container-registry.image.pull",
        outcome: "success",
        region,
        account: `bench${a}`,
        initiator: {
          id: "IBMid-bench",
          name: "bench@example.com",
          typeURI: "service/security/account/user",
          credential: { type: "apikey" },
          host: { address: "127.0.0.1", addressType: "IPv4", agent: "bench" },
        },
        target: { name: "birds/hello:latest" },
        reasonCode: 200,
        messageDetail: "birds/hello:latest",
        correlationId: randomUUID(),
      }),
    );
  }
}
const eventTime = (ms: number) => {
  const d = new Date(ms);
  return `${d.toISOString().slice(0, 22)}+0000`;
};
/** A valid event: a template with a fresh id, time and correlation id. */
function nextEvent(i: number): { event: AtEvent; accountId: string; region: string } {
  const t = templates[i % templates.length]!;
  const ms = Date.now();
  const event = {
    ...t,
    id: uuidV7(ms, randomBytes(10)),
    eventTime: eventTime(ms),
    correlationId: randomUUID(),
  };
  return {
    event,
    accountId: `bench${Math.floor(i / REGIONS.length) % 10}`,
    region: REGIONS[i % REGIONS.length]!,
  };
}

/** The last seq the trackers took (0 before the first event). */
async function lastSeq(): Promise<number> {
  const [r] = await sql<{ seq: string }[]>`
    select (case when is_called then last_value else 0 end)::text as seq from tracker.events_seq_seq`;
  return Number(r!.seq);
}

// ---- CPU of the processes ---------------------------------------------------------------

interface Procs {
  worker: ChildProcess;
  tracker: ChildProcess;
}
async function cpuNow(p: Procs) {
  await learnBackends();
  return {
    worker: cpuSeconds(p.worker.pid!),
    tracker: cpuSeconds(p.tracker.pid!),
    pg: postgresCpuSeconds(postmaster),
    bench: process.cpuUsage(),
  };
}
/** CPU seconds each part spent since `t0`. */
async function cpuSince(t0: Awaited<ReturnType<typeof cpuNow>>, p: Procs) {
  await learnBackends();
  const pg = postgresCpuSeconds(postmaster);
  const pgUsed = (key: string) => (pg[key] ?? 0) - (t0.pg[key] ?? 0);
  const bench = process.cpuUsage(t0.bench);
  return {
    worker: cpuSeconds(p.worker.pid!) - t0.worker,
    workerBackends: pgUsed("berth-worker"),
    tracker: cpuSeconds(p.tracker.pid!) - t0.tracker,
    trackerBackends: pgUsed("berth-tracker"),
    background: pgUsed("background"),
    /** This script and its connections (probes, or the latency phase's producer). */
    bench: (bench.user + bench.system) / 1e6 + pgUsed("other"),
  };
}
type Cpu = Awaited<ReturnType<typeof cpuSince>>;
const PARTS: [keyof Cpu, string][] = [
  ["worker", "worker"],
  ["workerBackends", "its Postgres backends"],
  ["tracker", "tracker"],
  ["trackerBackends", "its backends"],
  ["background", "Postgres background"],
  ["bench", "bench"],
];
const cpuTotal = (c: Cpu) => c.worker + c.workerBackends + c.tracker + c.trackerBackends;

// ---- figures ----------------------------------------------------------------------------

/** "median M (runs a, b, c; range lo–hi)". */
const spread = (xs: number[], f = fmt) =>
  `median ${f(median(xs))} (runs ${xs.map(f).join(", ")}; range ${f(Math.min(...xs))}–${f(Math.max(...xs))})`;

// ---- 1. throughput ----------------------------------------------------------------------

interface Drain {
  rate: number;
  seconds: number;
  tenths: string[];
  /** CPU µs per event of each part. */
  perEvent: Cpu;
  load: string;
  deadTuples: string;
}

function workerEnv(trackerUrl: string): Record<string, string> {
  return {
    BERTH_TRACKER_URL: trackerUrl,
    BERTH_WORKER_PORT: "0",
    ...(args.batch
      ? { BERTH_WORKER_BATCH_SIZE: args.batch, BERTH_WORKER_MAX_LINES: args.batch }
      : {}),
    ...(args.concurrency ? { BERTH_WORKER_CONCURRENCY: args.concurrency } : {}),
  };
}

/** Enqueue N events, start a worker delivering them to `tracker`, time the drain. */
async function drainInto(tracker: { url: string; child: ChildProcess; label: string }) {
  // Every run starts from the same outbox: the previous run's dead rows vacuumed away.
  await sql`vacuum analyze outbox`;
  const seq0 = await lastSeq();
  const t0 = now();
  for (let i = 0; i < N; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, N - i) }, (_, j) => nextEvent(i + j));
    await db.transaction((tx) => enqueueEvents(tx, batch));
  }
  const enqueueSeconds = (now() - t0) / 1000;
  // Statistics as autovacuum's analyze would leave them; no vacuum (the outbox is never
  // vacuumed for inserts alone), so the drain pays for first-touch hint bits as it would.
  await sql`analyze outbox`;
  const worker = await startApp(
    "worker",
    workerEnv(tracker.url),
    /^worker +(http:\/\/\S+)\/metrics/m,
    `worker-${tracker.label}`,
  );
  const procs = { worker: worker.child, tracker: tracker.child };
  const started = now();
  const cpu0 = await cpuNow(procs);
  const marks: { at: number; left: number }[] = [];
  // Cheap probes only (a sequence and an index lookup): a count(*) over a queue table full
  // of dead rows would cost Postgres more than the delivery it measures.
  await until("the outbox to drain", 15 * 60_000, async () => {
    const [r] = await sql<{ stored: string; pending: boolean }[]>`
      select (select last_value from tracker.events_seq_seq)::text as stored,
             exists(select 1 from outbox where status = 'pending') as pending`;
    const stored = Number(r!.stored) - seq0;
    marks.push({ at: now(), left: N - stored });
    if (stored >= N && !r!.pending) return true;
    await sleep(100);
    return undefined;
  });
  const drained = now();
  const cpu = await cpuSince(cpu0, procs);
  const load0 = loadText(" / ");
  await stopApp(worker.child);
  const [{ n: stored }] = (await sql<{ n: number }[]>`
    select count(*)::int as n from tracker.events where seq > ${seq0}`) as unknown as [
    { n: number },
  ];
  if (stored !== N) throw new Error(`the tracker stored ${stored} events, expected ${N}`);
  const seconds = (drained - started) / 1000;
  // Per-tenth rates: a rate that falls as the run goes on would be decay (dead tuples).
  const tenths: string[] = [];
  let last = { at: started, left: N };
  for (const m of marks) {
    if (last.left - m.left >= N / 10 || (m.left === 0 && last.left > 0)) {
      tenths.push(fmt((last.left - m.left) / ((m.at - last.at) / 1000)));
      last = m;
    }
  }
  const [dead] = await sql<{ n_dead_tup: number; size: string }[]>`
    select n_dead_tup::int, pg_size_pretty(pg_total_relation_size('outbox')) as size
      from pg_stat_user_tables where relname = 'outbox'`;
  const perEvent = Object.fromEntries(
    Object.entries(cpu).map(([k, v]) => [k, (v * 1e6) / N]),
  ) as Cpu;
  const drain: Drain = {
    rate: N / seconds,
    seconds,
    tenths,
    perEvent,
    load: load0,
    deadTuples: `${dead?.n_dead_tup ?? "?"} dead tuples, ${dead?.size ?? "?"}`,
  };
  console.log(
    `  ${tracker.label.padEnd(9)} ${fmt(drain.rate)} events/s (enqueued in ${enqueueSeconds.toFixed(1)} s, drained in ${seconds.toFixed(1)} s; per tenth ${tenths.join(", ")}; load ${drain.load})`,
  );
  console.log(
    `            CPU per event: ${PARTS.map(([k, name]) => `${name} ${perEvent[k].toFixed(0)} µs`).join(", ")}; outbox after: ${drain.deadTuples}`,
  );
  return drain;
}

// ---- 2. latency at a steady rate --------------------------------------------------------

interface Latency {
  p50: number;
  p99: number;
  max: number;
  reached: number;
  load: string;
}

/**
 * Commit events one per transaction at RATE/s for SECONDS and time commit → visible in the
 * tracker. Each event is one statement that inserts it, as enqueueEvents does inside a use
 * case's transaction, followed by the registry's coalesced wake-up (wakeWorkers); its commit
 * time is when the statement returns. "Visible" is when the tracker's notification for the
 * batch holding it arrives, which is sent only after that batch committed.
 */
async function steadyInto(tracker: { url: string; child: ChildProcess; label: string }) {
  // Steady state, not the aftermath of the backlog: clean up after the drains first (what
  // autovacuum would otherwise do in the middle of the measurement)...
  await sql`vacuum analyze outbox`;
  await sql`vacuum analyze tracker.events`;
  // And write out what they dirtied, or the checkpoint that their WAL calls for would run
  // during the measurement and slow every commit in it.
  await sql`checkpoint`;
  const worker = await startApp(
    "worker",
    workerEnv(tracker.url),
    /^worker +(http:\/\/\S+)\/metrics/m,
    `worker-steady-${tracker.label}`,
  );
  const procs = { worker: worker.child, tracker: tracker.child };
  const committed = new Map<string, number>();
  const notes: { lo: number; hi: number; at: number }[] = [];
  const listener = await sql.listen("berth_tracker_events", (payload) => {
    const note = JSON.parse(payload) as { lo: number; hi: number };
    notes.push({ ...note, at: now() });
  });
  const total = Math.round(RATE * SECONDS);
  const workerUrl = worker.match[1]!;
  const requestsSoFar = async () => {
    const text = await (await fetch(`${workerUrl}/metrics`)).text();
    const sum = (re: RegExp) => [...text.matchAll(re)].reduce((n, m) => n + Number(m[1]), 0);
    return {
      requests: sum(/^berth_delivery_batch_duration_seconds_count\{[^}]*\} (\d+)/gm),
      claims: sum(/^berth_delivery_claims_total\{[^}]*\} (\d+)/gm),
      empty: sum(/^berth_delivery_claims_total\{found="no"\} (\d+)/gm),
    };
  };
  // The producer has a pool of its own, and commits without waiting for the WAL flush: a
  // row is visible to other sessions when its commit returns either way (only its durability
  // waits), so commit → visible is measured alike, while 48 connections each waiting ~20 ms
  // for a flush capped the producer below 1,000/s. It must reach the asked rate (checked
  // below).
  const produce = async (count: number, onCommit: (id: string, at: number) => void) => {
    const start = now();
    let sent = 0;
    const inflight = new Set<Promise<void>>();
    while (sent < count && now() - start < (count / RATE + 30) * 1000) {
      const due = Math.min(count, Math.floor(((now() - start) / 1000) * RATE) + 1);
      while (sent < due) {
        const e = nextEvent(sent++);
        // As the registry does: the insert commits, then the workers are woken (coalesced).
        const p = producer.sql`
          insert into outbox (id, account_id, region, action, payload)
          values (${e.event.id}, ${e.accountId}, ${e.region}, ${e.event.action}, ${JSON.stringify(e.event)}::text::jsonb)`.then(
          () => {
            onCommit(e.event.id, now());
            wakeWorkers(producer.db);
          },
        );
        inflight.add(p);
        void p.finally(() => inflight.delete(p));
      }
      await sleep(5);
    }
    await Promise.all(inflight);
  };
  // A fresh worker process (and a tracker that has only drained backlogs) first runs at the
  // same rate for WARMUP seconds, not measured: the figures are the steady state's, not the
  // first second's of a process still compiling its hot paths.
  if (WARMUP > 0) {
    const warm: string[] = [];
    await produce(Math.round(RATE * WARMUP), (id) => warm.push(id));
    await until("warm-up events to arrive", 120_000, async () => {
      const [row] = await sql<{ n: number }[]>`
        select count(*)::int as n from tracker.events where id = any(${warm}::uuid[])`;
      return row!.n === warm.length ? true : undefined;
    });
  }
  notes.length = 0;
  const requests0 = await requestsSoFar();
  const cpu0 = await cpuNow(procs);
  const begin = now();
  let lastCommit = begin;
  await produce(total, (id, at) => {
    lastCommit = at;
    committed.set(id, at);
  });
  // Commits per second over the time they took (never less than the asked duration).
  const produceSeconds = Math.max(SECONDS, (lastCommit - begin) / 1000);
  const reached = committed.size / produceSeconds;
  const cpu = await cpuSince(cpu0, procs);
  const requests1 = await requestsSoFar();
  const ids = [...committed.keys()];
  const seqOf = new Map<string, number>();
  await until("steady events to arrive", 120_000, async () => {
    const rows = await sql<{ id: string; seq: string }[]>`
      select id::text, seq::text from tracker.events where id = any(${ids}::uuid[])`;
    for (const r of rows) seqOf.set(r.id, Number(r.seq));
    const maxSeq = Math.max(0, ...seqOf.values());
    return seqOf.size === ids.length && notes.some((n) => n.hi >= maxSeq) ? true : undefined;
  });
  await listener.unlisten();
  const loadNow = loadText(" / ");
  await stopApp(worker.child);
  const visibleAt = (seq: number) => notes.find((n) => n.lo <= seq && seq <= n.hi)!.at;
  const latencies = [...committed]
    .map(([id, at]) => Math.max(0, visibleAt(seqOf.get(id)!) - at))
    .sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
  const requests = requests1.requests - requests0.requests;
  const share = (sec: number) => `${((sec / produceSeconds) * 100).toFixed(0)}%`;
  const result: Latency = {
    p50: pct(50),
    p99: pct(99),
    max: latencies.at(-1)!,
    reached,
    load: loadNow,
  };
  const short = reached < 0.95 * RATE ? ` — BELOW the asked ${fmt(RATE)}/s` : "";
  console.log(
    `  ${tracker.label.padEnd(9)} p50 ${result.p50.toFixed(1)} ms, p99 ${result.p99.toFixed(1)} ms, max ${result.max.toFixed(1)} ms; producer asked ${fmt(RATE)}/s, reached ${fmt(reached)}/s${short} (${fmt(committed.size)} in ${produceSeconds.toFixed(1)} s; load ${loadNow})`,
  );
  console.log(
    `            ${fmt(requests)} ingestion requests (${(committed.size / Math.max(1, requests)).toFixed(1)} events each), ${fmt(requests1.claims - requests0.claims)} claims (${fmt(requests1.empty - requests0.empty)} empty); CPU (share of one core): ${PARTS.map(([k, name]) => `${name} ${share(cpu[k])}`).join(", ")}`,
  );
  return result;
}

// ---- the run ----------------------------------------------------------------------------

console.log(
  `delivery benchmark: ${fmt(N)} events × ${RUNS} runs; ${cpus().length} cores; load ${loadText(" / ")}; Postgres ${
    embedded ? "embedded" : "DATABASE_URL"
  }`,
);
const producerUrl = new URL(dbUrl);
producerUrl.searchParams.set("synchronous_commit", "off");
const producer = createDb(producerUrl.toString(), { max: 48 });
try {
  const startTracker = async (label: string, env: Record<string, string>) => {
    const t = await startApp(
      "tracker",
      { BERTH_TRACKER_PORT: "0", ...env },
      /^tracker +(http:\/\/\S+)$/m,
      label,
    );
    return { url: t.match[1]!, child: t.child, label };
  };
  const logged = await startTracker("log on", {});
  // Benchmark only (see apps/tracker/src/store.ts): stores the events without the log.
  const unlogged = await startTracker("log off", { BERTH_BENCH_UNLOGGED: "1" });

  const drains: Record<string, Drain[]> = { "log on": [], "log off": [] };
  const peer: number[] = [];
  for (let run = 1; run <= (args["latency-only"] ? 0 : RUNS); run++) {
    console.log(`\nround ${run} of ${RUNS}`);
    for (const t of [logged, unlogged]) drains[t.label]!.push(await drainInto(t));
    if (!args["skip-graphile"]) {
      const g = await runGraphilePeer(dbUrl, N);
      const rate = N / (g.runMs / 1000);
      peer.push(rate);
      console.log(
        `  graphile  ${fmt(rate)} jobs/s (${fmt(N)} no-op jobs queued in ${(g.queuedMs / 1000).toFixed(1)} s, run in ${(g.runMs / 1000).toFixed(1)} s; concurrency 24, localQueue 500; load ${loadText(" / ")})`,
      );
    }
  }

  console.log(
    `\nlatency (commit → visible in the tracker; each run measured after ${WARMUP} s at the same rate)`,
  );
  // As many latency runs as throughput rounds, interleaved, summarised by their medians.
  const latencyRuns: Record<"on" | "off", Latency[]> = { on: [], off: [] };
  for (let run = 1; run <= RUNS; run++) {
    if (RUNS > 1) console.log(`  run ${run} of ${RUNS}`);
    latencyRuns.on.push(await steadyInto(logged));
    latencyRuns.off.push(await steadyInto(unlogged));
  }
  const medianOf = (runs: Latency[]): Latency => ({
    p50: median(runs.map((l) => l.p50)),
    p99: median(runs.map((l) => l.p99)),
    max: Math.max(...runs.map((l) => l.max)),
    reached: median(runs.map((l) => l.reached)),
    load: runs.map((l) => l.load).join("; "),
  });
  const steady = { on: medianOf(latencyRuns.on), off: medianOf(latencyRuns.off) };
  await stopApp(logged.child);
  await stopApp(unlogged.child);

  const latencyLines = () => {
    for (const [label, l] of Object.entries(steady)) {
      const runs = latencyRuns[label as "on" | "off"];
      const ms = (x: number) => x.toFixed(1);
      console.log(
        `latency     log ${label}: p99 ${spread(
          runs.map((r) => r.p99),
          ms,
        )} ms, p50 ${ms(l.p50)} ms (medians) at ${spread(runs.map((r) => r.reached))}/s (asked ${fmt(RATE)}/s)`,
      );
    }
  };
  if (args["latency-only"]) latencyLines();
  else {
    const rates = (label: string) => drains[label]!.map((d) => d.rate);
    const on = median(rates("log on"));
    const off = median(rates("log off"));
    const cpuOf = (label: string, k: keyof Cpu) => median(drains[label]!.map((d) => d.perEvent[k]));
    const totalOf = (label: string) => median(drains[label]!.map((d) => cpuTotal(d.perEvent)));
    console.log("\nsummary (medians of the runs)");
    for (const label of ["log on", "log off"]) {
      console.log(`throughput  ${label}: ${spread(rates(label))} events/s`);
      console.log(
        `            CPU per event: ${PARTS.map(([k, name]) => `${name} ${cpuOf(label, k).toFixed(0)} µs`).join(", ")}; worker, tracker and their backends ${totalOf(label).toFixed(0)} µs`,
      );
    }
    const logCost = 1 - on / off;
    console.log(
      `log cost    ${(logCost * 100).toFixed(0)}% of ingestion throughput (${fmt(on)} vs ${fmt(off)} events/s); tracker and its backends ${(cpuOf("log on", "tracker") + cpuOf("log on", "trackerBackends")).toFixed(0)} vs ${(cpuOf("log off", "tracker") + cpuOf("log off", "trackerBackends")).toFixed(0)} µs per event`,
    );
    let ratio: number | undefined;
    if (peer.length > 0) {
      ratio = on / median(peer);
      console.log(`graphile    ${spread(peer)} jobs/s`);
      console.log(
        `ratio       berth delivery (log on) / graphile-worker = ${ratio.toFixed(2)}× (medians)`,
      );
    }
    latencyLines();
    const reachedRate = steady.on.reached >= 0.95 * RATE;
    const targets = [
      `${on >= 20_000 ? "met" : "MISSED"}: ≥ 20,000 events/s`,
      `${steady.on.p99 < 50 && reachedRate ? "met" : "MISSED"}: p99 < 50 ms at ${fmt(RATE)}/s${reachedRate ? "" : ` (the producer reached only ${fmt(steady.on.reached)}/s)`}`,
      ...(ratio === undefined ? [] : [`${ratio >= 2 ? "met" : "MISSED"}: ≥ 2× graphile-worker`]),
      `${logCost <= 0.2 ? "met" : "MISSED"}: the log costs ≤ 20% of throughput`,
    ];
    console.log(`targets     ${targets.join("; ")}`);
  }
} finally {
  await producer.sql.end({ timeout: 5 }).catch(() => {});
  await cleanup();
}
