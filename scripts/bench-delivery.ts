/**
 * Delivery benchmark (issue 6): `pnpm bench:delivery [--events N] [--rate R] [--seconds S]
 * [--skip-graphile] [--batch B] [--concurrency C] [--node-flags "<V8 flags of the worker and tracker>"] [--profile-dir D]`.
 *
 * 1. Throughput: enqueue N events (default 200,000) into the outbox, start a worker process
 *    and a tracker process (real HTTP on loopback), and time the drain until every event is
 *    stored in the tracker.
 * 2. Latency: with both running, commit events one per transaction at a steady R/s (default
 *    1,000) for S seconds and measure commit → visible in the tracker (p50/p99).
 * 3. Peer: graphile-worker processes N no-op jobs on the same Postgres.
 *
 * Prints the figures and the machine load. Every wait is bounded in time.
 *
 * Over 400 lines: one benchmark, read top to bottom in the order of the figures it prints;
 * what other scripts share lives in @berth/harness.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
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
} from "@berth/db";
import { runGraphilePeer } from "@berth/harness";

const root = fileURLToPath(new URL("..", import.meta.url));
const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "200000" },
    rate: { type: "string", default: "1000" },
    seconds: { type: "string", default: "15" },
    "skip-graphile": { type: "boolean", default: false },
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
const RATE = Number(args.rate);
const SECONDS = Number(args.seconds);
if (!Number.isInteger(N) || N <= 0 || !(RATE > 0) || !(SECONDS > 0)) {
  throw new Error("--events, --rate and --seconds must be positive numbers");
}

const now = () => performance.timeOrigin + performance.now();
const TICKS = 100; // USER_HZ on Linux

/** CPU seconds used so far by a process (and, for Postgres, all its backends). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return 0;
  }
}
/**
 * CPU seconds of this benchmark's Postgres server (the postmaster and its children; other
 * servers on the machine are not counted): client backends, and the rest (vacuum, WAL, ...).
 */
function postgresCpuSeconds(postmaster: number): Record<string, number> {
  const total: Record<string, number> = { background: cpuSeconds(postmaster) };
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) !== postmaster) continue;
      const title = readFileSync(`/proc/${entry}/cmdline`, "utf8");
      // Client backends show "postgres: <user> <database> <host>(<port>) ..."; which app a
      // backend serves comes from pg_stat_activity (backendApps).
      const key = /^postgres: \S+ \S+ \d/.test(title)
        ? (backendApps.get(Number(entry)) ?? "other")
        : "background";
      total[key] = (total[key] ?? 0) + cpuSeconds(Number(entry));
    } catch {}
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
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ");
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
async function startApp(app: string, env: Record<string, string>, ready: RegExp) {
  const profile = args["profile-dir"]
    ? ["--cpu-prof", `--cpu-prof-dir=${args["profile-dir"]}/${app}`]
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

async function trackerCount(): Promise<number> {
  const [r] = await sql<{ n: number }[]>`select count(*)::int as n from tracker.events`;
  return r!.n;
}

console.log(
  `delivery benchmark: ${fmt(N)} events; ${cpus().length} cores; load ${load()}; Postgres ${
    embedded ? "embedded" : "DATABASE_URL"
  }`,
);

try {
  // ---- 1. throughput ----------------------------------------------------------------------
  const tracker = await startApp(
    "tracker",
    { BERTH_TRACKER_PORT: "0" },
    /^tracker +(http:\/\/\S+)$/m,
  );
  const trackerUrl = tracker.match[1]!;
  let t0 = now();
  for (let i = 0; i < N; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, N - i) }, (_, j) => nextEvent(i + j));
    await db.transaction((tx) => enqueueEvents(tx, batch));
  }
  console.log(`enqueued ${fmt(N)} events in ${((now() - t0) / 1000).toFixed(1)} s`);
  // Statistics as autovacuum's analyze would leave them; no vacuum (the outbox is never
  // vacuumed for inserts alone), so the drain pays for first-touch hint bits as it would.
  await sql`analyze outbox`;

  const workerEnv: Record<string, string> = {
    BERTH_TRACKER_URL: trackerUrl,
    BERTH_WORKER_PORT: "0",
    ...(args.batch
      ? { BERTH_WORKER_BATCH_SIZE: args.batch, BERTH_WORKER_MAX_LINES: args.batch }
      : {}),
    ...(args.concurrency ? { BERTH_WORKER_CONCURRENCY: args.concurrency } : {}),
  };
  t0 = now();
  const worker = await startApp("worker", workerEnv, /^worker +(http:\/\/\S+)\/metrics/m);
  await learnBackends();
  const started = now();
  const cpu0 = {
    worker: cpuSeconds(worker.child.pid!),
    tracker: cpuSeconds(tracker.child.pid!),
    pg: postgresCpuSeconds(postmaster),
    bench: process.cpuUsage(),
  };
  const marks: { at: number; left: number }[] = [];
  // Cheap probes only (a sequence and an index lookup): a count(*) over a queue table full
  // of dead rows would cost Postgres more than the delivery it measures.
  await until("the outbox to drain", 15 * 60_000, async () => {
    const [r] = await sql<{ stored: string; pending: boolean }[]>`
      select (select last_value from tracker.events_seq_seq)::text as stored,
             exists(select 1 from outbox where status = 'pending') as pending`;
    const stored = Number(r!.stored);
    marks.push({ at: now(), left: N - stored });
    if (stored >= N && !r!.pending) return true;
    await sleep(100);
    return undefined;
  });
  const drained = now();
  const benchCpu = process.cpuUsage(cpu0.bench);
  await learnBackends();
  const pg1 = postgresCpuSeconds(postmaster);
  const pgUsed = (key: string) => (pg1[key] ?? 0) - (cpu0.pg[key] ?? 0);
  const cpu = {
    worker: cpuSeconds(worker.child.pid!) - cpu0.worker,
    tracker: cpuSeconds(tracker.child.pid!) - cpu0.tracker,
    pgWorker: pgUsed("berth-worker"),
    pgTracker: pgUsed("berth-tracker"),
    pgOther: pgUsed("other"),
    pgBackground: pgUsed("background"),
    bench: (benchCpu.user + benchCpu.system) / 1e6,
  };
  const stored = await trackerCount();
  if (stored !== N) throw new Error(`tracker holds ${stored} events, expected ${N}`);
  const seconds = (drained - started) / 1000;
  const rate = N / seconds;
  const loadAfterDrain = load();
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

  // ---- 2. latency at a steady rate ------------------------------------------------------
  // Steady state, not the aftermath of the backlog: clean up after the drain first (what
  // autovacuum would otherwise do in the middle of the measurement)...
  await sql`vacuum analyze outbox`;
  await sql`vacuum analyze tracker.events`;
  // And write out what the drain dirtied, or the checkpoint that its WAL calls for would
  // run during the measurement and slow every commit in it.
  await sql`checkpoint`;
  // Each event is its own transaction: one statement that inserts it and notifies, as
  // enqueueEvents does inside a use case's transaction. The time of the commit is when the
  // statement returns. "Visible" is when the tracker's notification for the batch holding it
  // arrives, which Postgres sends only after that batch committed.
  const committed = new Map<string, number>();
  const notes: { lo: number; hi: number; at: number }[] = [];
  const listener = await sql.listen("berth_tracker_events", (payload) => {
    const note = JSON.parse(payload) as { lo: number; hi: number };
    notes.push({ ...note, at: now() });
  });
  const total = Math.round(RATE * SECONDS);
  const tickMs = 5;
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
  const requests0 = await requestsSoFar();
  const begin = now();
  await learnBackends();
  const steady0 = {
    worker: cpuSeconds(worker.child.pid!),
    tracker: cpuSeconds(tracker.child.pid!),
    pg: postgresCpuSeconds(postmaster),
    bench: process.cpuUsage(),
  };
  let sent = 0;
  const inflight = new Set<Promise<void>>();
  while (sent < total && now() - begin < (SECONDS + 30) * 1000) {
    const due = Math.min(total, Math.floor(((now() - begin) / 1000) * RATE) + 1);
    while (sent < due) {
      const e = nextEvent(sent++);
      const p = sql`
        with ins as (
          insert into outbox (id, account_id, region, action, payload)
          values (${e.event.id}, ${e.accountId}, ${e.region}, ${e.event.action}, ${JSON.stringify(e.event)}::text::jsonb)
        )
        select pg_notify('berth_outbox', '')`.then(() => {
        committed.set(e.event.id, now());
      });
      inflight.add(p);
      void p.finally(() => inflight.delete(p));
    }
    await sleep(tickMs);
  }
  await Promise.all(inflight);
  const produceSeconds = (now() - begin) / 1000;
  const achievedRate = committed.size / produceSeconds;
  await learnBackends();
  const steadyPg = postgresCpuSeconds(postmaster);
  const steadyBench = process.cpuUsage(steady0.bench);
  const share = (sec: number) => `${((sec / produceSeconds) * 100).toFixed(0)}%`;
  const steadyPgUsed = (key: string) => (steadyPg[key] ?? 0) - (steady0.pg[key] ?? 0);
  const requests1 = await requestsSoFar();
  const steadyRequests = requests1.requests - requests0.requests;
  const steadyClaims = `${fmt(requests1.claims - requests0.claims)} claims (${fmt(requests1.empty - requests0.empty)} empty)`;
  const steadyCpu = [
    `worker ${share(cpuSeconds(worker.child.pid!) - steady0.worker)} + its backends ${share(steadyPgUsed("berth-worker"))}`,
    `tracker ${share(cpuSeconds(tracker.child.pid!) - steady0.tracker)} + its backends ${share(steadyPgUsed("berth-tracker"))}`,
    `producer ${share((steadyBench.user + steadyBench.system) / 1e6 + steadyPgUsed("other"))}`,
    `Postgres background ${share(steadyPgUsed("background"))}`,
  ].join(", ");
  const ids = [...committed.keys()];
  const seqOf = new Map<string, number>();
  await until("steady events to arrive", 60_000, async () => {
    const rows = await sql<{ id: string; seq: string }[]>`
      select id::text, seq::text from tracker.events where id = any(${ids}::uuid[])`;
    for (const r of rows) seqOf.set(r.id, Number(r.seq));
    const maxSeq = Math.max(0, ...seqOf.values());
    return seqOf.size === ids.length && notes.some((n) => n.hi >= maxSeq) ? true : undefined;
  });
  await listener.unlisten();
  const visibleAt = (seq: number) => notes.find((n) => n.lo <= seq && seq <= n.hi)!.at;
  const latencies = [...committed]
    .map(([id, at]) => Math.max(0, visibleAt(seqOf.get(id)!) - at))
    .sort((a, b) => a - b);
  const pct = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!;
  const loadAfterSteady = load();
  await stopApp(worker.child);
  await stopApp(tracker.child);

  console.log("");
  console.log(
    `throughput  ${fmt(rate)} events/s delivered end to end (${fmt(N)} in ${seconds.toFixed(1)} s; load ${loadAfterDrain})`,
  );
  console.log(`            per tenth of the run: ${tenths.join(", ")} events/s`);
  const perEvent = (sec: number) => ((sec * 1e6) / N).toFixed(0);
  console.log(
    `            CPU per event: worker ${perEvent(cpu.worker)} µs + its Postgres backends ${perEvent(cpu.pgWorker)} µs; tracker ${perEvent(cpu.tracker)} µs + its backends ${perEvent(cpu.pgTracker)} µs; Postgres background (vacuum, WAL, checkpoints) ${perEvent(cpu.pgBackground)} µs; bench probes ${perEvent(cpu.bench + cpu.pgOther)} µs`,
  );
  console.log(
    `            outbox after the drain: ${dead?.n_dead_tup ?? "?"} dead tuples, ${dead?.size ?? "?"}`,
  );
  console.log(
    `latency     commit → visible in the tracker at ${fmt(latencies.length / produceSeconds)} events/s for ${produceSeconds.toFixed(1)} s: p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms (load ${loadAfterSteady})`,
  );
  console.log(
    `            ${fmt(steadyRequests)} ingestion requests (${(committed.size / Math.max(1, steadyRequests)).toFixed(1)} events each), ${steadyClaims}; CPU at that rate (share of one core): ${steadyCpu}`,
  );

  // ---- 3. graphile-worker -----------------------------------------------------------------
  let ratio: number | undefined;
  if (!args["skip-graphile"]) {
    const peer = await runGraphilePeer(dbUrl, N, {
      onQueued: (ms) =>
        console.log(`\ngraphile-worker: queued ${fmt(N)} jobs in ${(ms / 1000).toFixed(1)} s`),
    });
    const gSeconds = peer.runMs / 1000;
    const gLoad = load();
    const gRate = N / gSeconds;
    console.log(
      `graphile    ${fmt(gRate)} jobs/s (${fmt(N)} no-op jobs in ${gSeconds.toFixed(1)} s; concurrency 24, localQueue 500; load ${gLoad})`,
    );
    ratio = rate / gRate;
    console.log(`ratio       berth delivery / graphile-worker = ${ratio.toFixed(2)}×`);
  }
  const targets = [
    `${rate >= 20_000 ? "met" : "MISSED"}: ≥ 20,000 events/s`,
    `${pct(99) < 50 && achievedRate >= 0.95 * RATE ? "met" : "MISSED"}: p99 < 50 ms at ${fmt(RATE)}/s (reached ${fmt(achievedRate)}/s)`,
    ...(ratio === undefined ? [] : [`${ratio >= 2 ? "met" : "MISSED"}: ≥ 2× graphile-worker`]),
  ];
  console.log(`targets     ${targets.join("; ")}`);
} finally {
  await cleanup();
}
