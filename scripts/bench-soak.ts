/**
 * `pnpm bench:soak [--seconds 120] [--concurrency 8] [--accounts 3] [--sample-seconds 5]
 * [--max-layer-kb 64] [--drain-seconds 300]`
 *
 * A bounded soak on loopback: an embedded Postgres, the tracker, the worker and the server as
 * processes, and a closed-loop mixed load of OCI pushes and pulls and tRPC management calls
 * (creates, deletes, lists, quota) for a fixed time, with the worker delivering into the
 * tracker all along. Prints latency percentiles per operation, requests served, errors, the
 * RSS of each process and the outbox size over time (both should stay flat), and then, once
 * the backlog has drained, events lost: every id the outbox ever received (kept by a
 * trigger of this run) against what the tracker holds. Exits 1 when an event is lost or
 * duplicated, or a request failed.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createDb } from "@berth/db";
import {
  accountEvents,
  deliveryLedger,
  installLedger,
  mb,
  ms,
  parseMetrics,
  printOperations,
  rssBytes,
  type ServiceProcess,
  scriptOptions,
  secondsLog,
  setupAccounts,
  startPostgres,
  startServerProcess,
  startTrackerProcess,
  startWorkerProcess,
  until,
  Workload,
} from "@berth/harness";

const values = scriptOptions({
  seconds: 120,
  concurrency: 8,
  accounts: 3,
  "sample-seconds": 5,
  "max-layer-kb": 64,
  "drain-seconds": 300,
});
const { seconds: SECONDS, concurrency: CONCURRENCY, accounts: ACCOUNTS } = values;
const SAMPLE_MS = values["sample-seconds"] * 1000;
const MAX_LAYER = values["max-layer-kb"] * 1024;
const DRAIN_MS = values["drain-seconds"] * 1000;
if (![SECONDS, CONCURRENCY, ACCOUNTS, SAMPLE_MS, MAX_LAYER, DRAIN_MS].every((n) => n > 0)) {
  throw new Error("every option must be a positive number");
}

const started = Date.now();
const log = secondsLog(started);

/**
 * Memory of a Postgres server: the proportional set size (PSS) of the postmaster and its
 * children, so that shared buffers count once rather than once per backend touching them.
 */
function postgresPss(postmaster: number | undefined): number | undefined {
  if (!postmaster) return undefined;
  const pss = (pid: number) => {
    try {
      const kb = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1];
      return kb ? Number(kb) * 1024 : 0;
    } catch {
      return 0;
    }
  };
  let total = pss(postmaster);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) === postmaster) total += pss(Number(entry));
    } catch {
      // gone
    }
  }
  return total;
}

interface Sample {
  t: number;
  rss: Record<string, number | undefined>;
  outbox: number;
  lagSeconds: number;
  operations: number;
}

const pg = await startPostgres();
const dataDir = mkdtempSync(join(tmpdir(), "berth-soak-"));
const running: ServiceProcess[] = [];
let exitCode = 0;
try {
  const { sql } = createDb(pg.url, { max: 2 });
  await installLedger(sql);
  const tracker = await startTrackerProcess({
    databaseUrl: pg.url,
    nodeFlags: ["--max-semi-space-size=32"],
  });
  running.push(tracker);
  const worker = await startWorkerProcess({
    databaseUrl: pg.url,
    trackerUrl: tracker.url,
    nodeFlags: ["--max-semi-space-size=32"],
  });
  running.push(worker);
  const server = await startServerProcess({ databaseUrl: pg.url, dataDir, logLevel: "warn" });
  running.push(server);
  const prefix = `s${Date.now().toString(36)}`;
  const setup = await setupAccounts(pg.url, server.url, prefix, ACCOUNTS);
  log(
    `soak: ${SECONDS} s, ${CONCURRENCY} clients, ${ACCOUNTS} accounts, layers up to ${values["max-layer-kb"]} KB; ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}`,
  );
  const httpServed = async () =>
    Object.entries(parseMetrics(await (await fetch(`${server.url}/metrics`)).text())).find(
      ([k]) => k === "berth_http_requests_total",
    )?.[1] ?? 0;
  const servedBefore = await httpServed();
  const workload = new Workload({
    base: server.url,
    actors: setup.actors,
    prefix,
    layerBytes: [1024, MAX_LAYER],
    // Namespaces are capped per account (100): deletes outweigh creates.
    mix: { "namespace.create": 1, "namespace.delete": 2 },
  });
  const samples: Sample[] = [];
  const sample = async () => {
    const m = parseMetrics(await (await fetch(`${worker.url}/metrics`)).text());
    const [{ n }] = (await sql`select count(*)::int as n from outbox`) as unknown as [
      { n: number },
    ];
    samples.push({
      t: (Date.now() - started) / 1000,
      rss: {
        server: rssBytes(server.pid),
        worker: rssBytes(worker.pid),
        tracker: rssBytes(tracker.pid),
        postgres: postgresPss(pg.pid()),
      },
      outbox: n,
      lagSeconds: m.berth_outbox_oldest_pending_age_seconds ?? 0,
      operations: workload.records.length,
    });
  };
  await sample();
  const sampler = setInterval(() => void sample().catch(() => {}), SAMPLE_MS);
  await workload.run({
    concurrency: CONCURRENCY,
    durationMs: SECONDS * 1000,
    maxOps: 10_000_000,
  });
  clearInterval(sampler);
  await sample();
  const served = (await httpServed()) - servedBefore;
  log(`load done: ${workload.records.length} operations; draining the outbox`);
  const drainStart = Date.now();
  const ledger = await until(
    "the outbox to drain into the tracker",
    async () => {
      const l = await deliveryLedger(setup.sql);
      return l.pending === 0 && l.lost === 0 ? l : undefined;
    },
    DRAIN_MS,
    500,
  ).catch(async () => deliveryLedger(setup.sql));
  const drainMs = Date.now() - drainStart;
  const events = await accountEvents(setup.sql, workload.records);

  const ops = workload.summary();
  const total = workload.records.length;
  const failed = workload.records.filter((r) => !r.ok);
  console.log(
    `\nsoak of ${SECONDS} s, ${CONCURRENCY} clients: ${total} operations (${(total / SECONDS).toFixed(1)}/s), ${served} HTTP requests served (${(served / SECONDS).toFixed(1)}/s)`,
  );
  printOperations(ops);
  console.log(`failed operations: ${failed.length}`);
  for (const f of failed.slice(0, 10)) console.log(`  ${f.op} ${f.status}: ${f.error ?? ""}`);
  console.log("\nover time (RSS in MB; Postgres: PSS of the postmaster and its backends):");
  console.log(
    `  ${"t s".padStart(6)} ${"ops".padStart(7)} ${"server".padStart(7)} ${"worker".padStart(7)} ${"tracker".padStart(8)} ${"postgres".padStart(9)} ${"outbox".padStart(7)} ${"lag s".padStart(6)}`,
  );
  for (const s of samples) {
    console.log(
      `  ${s.t.toFixed(0).padStart(6)} ${String(s.operations).padStart(7)} ${mb(s.rss.server).padStart(7)} ${mb(s.rss.worker).padStart(7)} ${mb(s.rss.tracker).padStart(8)} ${mb(s.rss.postgres).padStart(9)} ${String(s.outbox).padStart(7)} ${s.lagSeconds.toFixed(1).padStart(6)}`,
    );
  }
  // Trend: the last third of the run against the middle third (the first is warm-up).
  const third = Math.max(1, Math.floor(samples.length / 3));
  const middle = samples.slice(third, 2 * third);
  const last = samples.slice(-third);
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  for (const name of ["server", "worker", "tracker"]) {
    const a = avg(middle.map((s) => s.rss[name] ?? 0));
    const b = avg(last.map((s) => s.rss[name] ?? 0));
    console.log(
      `  ${name} RSS: middle third ${mb(a)} MB, last third ${mb(b)} MB (${(((b - a) / a) * 100).toFixed(0)}%)`,
    );
  }
  console.log(
    `  outbox rows: max ${Math.max(...samples.map((s) => s.outbox))}, middle third avg ${avg(middle.map((s) => s.outbox)).toFixed(0)}, last third avg ${avg(last.map((s) => s.outbox)).toFixed(0)}; max lag ${Math.max(...samples.map((s) => s.lagSeconds)).toFixed(1)} s`,
  );
  console.log(
    `\nevents: enqueued ${ledger.enqueued}, stored in the tracker ${ledger.stored}, lost ${ledger.lost}, duplicated ${ledger.duplicated}, unknown ${ledger.unknown}, dead ${ledger.dead}; drained ${ms(drainMs)} ms after the load`,
  );
  console.log(
    `per request: acknowledged ${events.acknowledged}, without their event ${events.missing.length}, with two ${events.duplicated.length}, success after refusal ${events.phantom.length}`,
  );
  console.log(`machine load at the end ${loadavg()[0]!.toFixed(2)}`);
  const broken =
    ledger.lost + ledger.duplicated + ledger.unknown + ledger.dead + ledger.pending > 0 ||
    events.missing.length + events.duplicated.length + events.phantom.length > 0 ||
    failed.length > 0;
  console.log(broken ? "\nFAILED" : "\nOK");
  exitCode = broken ? 1 : 0;
  await setup.close();
  await sql.end();
} finally {
  await Promise.all(running.map((p) => p.stop()));
  await pg.destroy();
}
process.exit(exitCode);
