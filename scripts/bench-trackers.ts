/**
 * Several tracker processes of one region (issue 15): `pnpm bench:trackers [--runs R]
 * [--requests N] [--events E] [--accounts A] [--concurrency C] [--processes 1,2]
 * [--node-flags "<V8 flags>"]`.
 *
 * A region may run more than one tracker process behind one address. A process appends to the
 * logs it wrote last in one statement, which the database refuses when another process grew a
 * log meanwhile; the events are then placed under the logs' locks. This prints what that costs
 * when processes take turns on the same account domains: each round posts N ingestion requests
 * of E events (A accounts, C requests in flight, spread round-robin over the processes) once
 * per process count, interleaved, and gives events/s, the CPU per event of the tracker
 * processes and of their Postgres backends (from /proc), how the writes were placed, and how
 * many one-statement writes were refused. Every log is checked gap-free after each round.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb } from "@berth/db";
import {
  benchDatabase,
  cpuSeconds,
  INGESTION_KEY,
  loadText,
  median,
  parseMetrics,
  runScript,
  type ServiceProcess,
  scriptOptions,
  secondsLog,
  sleep,
  startTrackerProcess,
} from "@berth/harness";
import { lineOf, makeEvent } from "@berth/tracker-client/testing";

const opts = scriptOptions({
  runs: 3,
  requests: 3000,
  events: 20,
  accounts: 4,
  concurrency: 6,
  processes: "1,2",
  /** V8 flags of the tracker processes (e.g. add --cpu-prof --cpu-prof-dir=D to profile them). */
  "node-flags": "--max-semi-space-size=32",
});
const counts = opts.processes.split(",").map(Number);
if (!(opts.runs >= 1 && opts.runs <= 20)) throw new Error("--runs must be 1 to 20");
for (const [name, v, max] of [
  ["requests", opts.requests, 100_000],
  ["events", opts.events, 500],
  ["accounts", opts.accounts, 1_000],
  ["concurrency", opts.concurrency, 64],
] as const) {
  if (!(Number.isInteger(v) && v >= 1 && v <= max)) {
    throw new Error(`--${name} must be a whole number from 1 to ${max}`);
  }
}
if (!counts.every((n) => Number.isInteger(n) && n >= 1 && n <= 4)) {
  throw new Error("--processes must list process counts from 1 to 4, e.g. 1,2");
}

type Sql = ReturnType<typeof createDb>["sql"];
const log = secondsLog();
const auth = `Basic ${Buffer.from(`${INGESTION_KEY}:`).toString("base64")}`;
/** No round may run longer than this: the load is bounded in count and in time. */
const ROUND_LIMIT_MS = 300_000;

interface Round {
  processes: number;
  eventsPerSecond: number;
  trackerUs: number;
  backendsUs: number;
  remembered: number;
  locked: number;
  refused: number;
  /** Transactions the database rolled back meanwhile (a refused one-statement write is one). */
  rolledBack: number;
  /** Requests not answered 200, with what the trackers logged about them. */
  failed: string[];
}

/** CPU seconds of the tracker's Postgres backends, by pid (a pool may open more meanwhile). */
async function backendCpu(sql: Sql): Promise<Map<number, number>> {
  const rows = await sql<{ pid: number }[]>`
    select pid from pg_stat_activity
     where datname = current_database() and application_name = 'berth-tracker'`;
  return new Map(rows.map((r) => [r.pid, cpuSeconds(r.pid)]));
}

/** The database's rolled-back transactions so far (the statistics lag by up to a second). */
async function rollbacks(sql: Sql): Promise<number> {
  await sleep(1_100);
  const [row] = await sql<{ n: number }[]>`
    select xact_rollback::int as n from pg_stat_database where datname = current_database()`;
  return row!.n;
}

/** How a tracker's writes were placed so far, from its metrics. */
async function placements(t: ServiceProcess) {
  const text = await (await fetch(`${t.url}/metrics`)).text();
  const placed = (how: string) =>
    Number(
      new RegExp(`^berth_tracker_ingest_transactions_total\\{placed="${how}"\\} (\\S+)`, "m").exec(
        text,
      )?.[1] ?? 0,
    );
  return {
    remembered: placed("remembered"),
    locked: placed("locked"),
    refused: parseMetrics(text).berth_tracker_ingest_refused_writes_total ?? 0,
  };
}
type Placements = Awaited<ReturnType<typeof placements>>;

async function round(url: string, sql: Sql, processes: number): Promise<Round> {
  const trackers: ServiceProcess[] = [];
  try {
    for (let i = 0; i < processes; i++) {
      trackers.push(
        await startTrackerProcess({
          databaseUrl: url,
          nodeFlags: opts["node-flags"].split(" ").filter(Boolean),
        }),
      );
    }
    const tag = randomBytes(3).toString("hex");
    const accounts = Array.from({ length: opts.accounts }, (_, i) => `turns${tag}${i}`);
    const failed: string[] = [];
    let stored = 0;
    const post = async (n: number): Promise<number> => {
      // Consecutive requests of one account go to different processes: they take turns.
      const account = accounts[Math.floor(n / processes) % accounts.length]!;
      const body = JSON.stringify({
        lines: Array.from({ length: opts.events }, () => lineOf(makeEvent({ account }))),
      });
      const res = await fetch(`${trackers[n % processes]!.url}/regions/us-south/logs/ingest`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: auth },
        body,
      });
      const text = await res.text();
      if (res.status !== 200) {
        // Counted and shown, not thrown: a refused request is a defect the figures must show.
        const id = /request ([0-9a-f-]{36})/.exec(text)?.[1];
        const said = trackers.flatMap((t) => t.output.filter((l) => id && l.includes(id)));
        failed.push(`ingestion request ${n}: ${res.status} ${text}\n${said.join("\n")}`);
        return 0;
      }
      return opts.events;
    };
    // Warm: each process writes each account once, so every log is known to somebody.
    for (let n = 0; n < processes * accounts.length; n++) stored += await post(n);
    const placed0 = await Promise.all(trackers.map(placements));
    const cpu0 = trackers.map((t) => cpuSeconds(t.pid));
    const pg0 = await backendCpu(sql);
    const rollbacks0 = await rollbacks(sql);
    const started = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: opts.concurrency }, async () => {
        while (next < opts.requests) {
          if (Date.now() - started > ROUND_LIMIT_MS) {
            throw new Error(`a round ran over ${ROUND_LIMIT_MS / 1000} s`);
          }
          const took = await post(next++);
          stored += took;
        }
      }),
    );
    const seconds = (Date.now() - started) / 1000;
    const pg1 = await backendCpu(sql);
    const rolledBack = (await rollbacks(sql)) - rollbacks0;
    const trackerCpu = trackers.reduce((s, t, i) => s + cpuSeconds(t.pid) - cpu0[i]!, 0);
    let backends = 0;
    for (const [pid, now] of pg1) backends += now - (pg0.get(pid) ?? 0);
    const placed1 = await Promise.all(trackers.map(placements));
    // Counted over the measured requests only (not the warm-up's).
    const sum = (k: keyof Placements) => placed1.reduce((s, m, i) => s + m[k] - placed0[i]![k], 0);
    const holes = await sql<{ account_id: string; n: number; top: number }[]>`
      select account_id, count(*)::int as n, max(log_index)::int + 1 as top
        from tracker.events where account_id = any(${accounts}) group by account_id`;
    const found = holes.reduce((s, h) => s + h.n, 0);
    if (found !== stored || holes.some((h) => h.n !== h.top)) {
      throw new Error(`the logs are not gap-free: ${JSON.stringify(holes)} (${stored} stored)`);
    }
    const events = opts.requests * opts.events;
    return {
      processes,
      eventsPerSecond: events / seconds,
      trackerUs: (trackerCpu / events) * 1e6,
      backendsUs: (backends / events) * 1e6,
      remembered: sum("remembered"),
      locked: sum("locked"),
      refused: sum("refused"),
      rolledBack,
      failed,
    };
  } finally {
    for (const t of trackers) await t.stop(10_000);
  }
}

const spread = (xs: number[], digits = 0) =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`;

let db: Awaited<ReturnType<typeof benchDatabase>> | undefined;
let sql: Sql | undefined;
runScript(
  async () => {
    db = await benchDatabase();
    sql = createDb(db.url, { max: 2 }).sql;
    log(
      `${opts.runs} rounds of ${opts.requests} requests × ${opts.events} events, ${opts.accounts} accounts, ${opts.concurrency} in flight; processes ${counts.join(", ")}; load ${loadText()}`,
    );
    const rounds: Round[] = [];
    for (let r = 0; r < opts.runs; r++) {
      for (const p of counts) {
        const x = await round(db.url, sql, p);
        rounds.push(x);
        if (x.failed.length > 0) console.log(x.failed[0]!.slice(0, 2000));
        log(
          `round ${r + 1}, ${p} process(es): ${x.eventsPerSecond.toFixed(0)} events/s; CPU per event: trackers ${x.trackerUs.toFixed(0)} µs, their backends ${x.backendsUs.toFixed(0)} µs; writes remembered ${x.remembered}, locked ${x.locked}, refused ${x.refused}; rolled back ${x.rolledBack}; requests failed ${x.failed.length}; load ${loadText()}`,
        );
      }
    }
    console.log(`\nmedian (range) of ${opts.runs} rounds:`);
    const failures = rounds.reduce((s, x) => s + x.failed.length, 0);
    for (const p of counts) {
      const of = rounds.filter((x) => x.processes === p);
      console.log(
        `  ${p} process(es): ${spread(of.map((x) => x.eventsPerSecond))} events/s; failed requests ${of.reduce((s, x) => s + x.failed.length, 0)}; trackers ${spread(of.map((x) => x.trackerUs))} µs + backends ${spread(of.map((x) => x.backendsUs))} µs per event; refused ${spread(of.map((x) => x.refused))} and rolled back ${spread(of.map((x) => x.rolledBack))} of ${spread(of.map((x) => x.remembered + x.locked))} writes`,
      );
    }
    if (failures > 0)
      throw new Error(`FAILED: ${failures} ingestion requests were not answered 200`);
  },
  [async () => void (await sql?.end({ timeout: 5 })), async () => db?.close()],
  mkdtempSync(join(tmpdir(), "berth-bench-trackers-")),
);
