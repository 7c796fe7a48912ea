/** The tracker down under steady load, then back (`pnpm fault:tracker`). */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, freePort } from "@berth/db";
import { accountEvents, type EventAccounting } from "../accounting";
import { type DeliveryLedger, drainedLedger, installLedger } from "../ledger";
import {
  type ServiceProcess,
  startPostgres,
  startServerProcess,
  startTrackerProcess,
  startWorkerProcess,
} from "../processes";
import { parseMetrics } from "../prometheus";
import { type OpSummary, Workload } from "../workload";
import { type Log, type Setup, setupAccounts } from "./setup";

export interface LagSample {
  /** Seconds since the load started. */
  t: number;
  phase: "before" | "down" | "after";
  pending: number;
  lagSeconds: number;
}

export interface TrackerOutageOptions {
  /** How long the tracker stays down. */
  downMs: number;
  /** Steady load: operations started per second. */
  ratePerSecond: number;
  /** Load before the outage and after it. */
  beforeMs?: number;
  afterMs?: number;
  /** Extra worker environment (e.g. a shorter retry cap for tests). */
  workerEnv?: Record<string, string>;
  /** How long the backlog may take to drain once the tracker is back. */
  drainTimeoutMs?: number;
  log?: Log;
}

export interface TrackerOutageReport {
  ledger: DeliveryLedger;
  samples: LagSample[];
  maxLagSeconds: number;
  maxPending: number;
  lagAtEnd: number;
  /** From the tracker's restart until the outbox was empty and the tracker held everything. */
  drainMs: number;
  requests: number;
  acknowledged: number;
  operations: Record<string, OpSummary>;
  events: EventAccounting;
  worker: Record<string, number>;
}

/**
 * The tracker endpoint down for a while under steady load, then back: the worker retries
 * with backoff, the backlog drains by itself, every event the outbox received is in the
 * tracker exactly once, and the lag metric rises during the outage and falls after it.
 */
export async function trackerOutage(opts: TrackerOutageOptions): Promise<TrackerOutageReport> {
  const log = opts.log ?? (() => {});
  const prefix = `t${Date.now().toString(36)}`;
  const pg = await startPostgres();
  const dataDir = mkdtempSync(join(tmpdir(), "berth-fault-data-"));
  const running: ServiceProcess[] = [];
  let setup: Setup | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    const { sql } = createDb(pg.url, { max: 2 });
    await installLedger(sql);
    await sql.end();
    const trackerPort = await freePort();
    let tracker = await startTrackerProcess({ databaseUrl: pg.url, port: trackerPort });
    running.push(tracker);
    const worker = await startWorkerProcess({
      databaseUrl: pg.url,
      trackerUrl: tracker.url,
      ...(opts.workerEnv ? { env: opts.workerEnv } : {}),
    });
    const server = await startServerProcess({ databaseUrl: pg.url, dataDir, logLevel: "warn" });
    running.push(worker, server);
    setup = await setupAccounts(pg.url, server.url, prefix);
    const workload = new Workload({ base: server.url, actors: setup.actors, prefix });
    const beforeMs = opts.beforeMs ?? 10_000;
    const afterMs = opts.afterMs ?? 10_000;
    const loadMs = beforeMs + opts.downMs + afterMs;
    const load = workload.run({
      concurrency: 16,
      durationMs: loadMs,
      maxOps: Math.ceil((loadMs / 1000) * opts.ratePerSecond) + 100,
      ratePerSecond: opts.ratePerSecond,
    });
    const samples: LagSample[] = [];
    let phase: LagSample["phase"] = "before";
    const sample = async (): Promise<LagSample | undefined> => {
      try {
        const res = await fetch(`${worker.url}/metrics`, { signal: AbortSignal.timeout(5000) });
        const m = parseMetrics(await res.text());
        const s: LagSample = {
          t: workload.elapsed() / 1000,
          phase,
          pending: m.berth_outbox_pending ?? 0,
          lagSeconds: m.berth_outbox_oldest_pending_age_seconds ?? 0,
        };
        samples.push(s);
        return s;
      } catch {
        return undefined; // a missed sample
      }
    };
    // The periodic samples run unawaited; the last one is kept so the final reading can wait
    // for it (a slow sample from before the drain must not land after the final one).
    let inFlight: Promise<unknown> = Promise.resolve();
    sampler = setInterval(() => {
      inFlight = sample();
    }, 1000);
    await new Promise((r) => setTimeout(r, beforeMs));
    log(`tracker down (SIGKILL) for ${opts.downMs / 1000} s at ${opts.ratePerSecond} operations/s`);
    phase = "down";
    await tracker.kill9();
    await new Promise((r) => setTimeout(r, opts.downMs));
    tracker = await startTrackerProcess({ databaseUrl: pg.url, port: trackerPort });
    running.push(tracker);
    phase = "after";
    const backAt = performance.now();
    log("tracker back");
    await load;
    log(`load done: ${workload.records.length} operations; waiting for the backlog to drain`);
    const ledger = await drainedLedger(
      setup!.sql,
      "the backlog to drain into the tracker",
      opts.drainTimeoutMs ?? 15 * 60_000,
    );
    const drainMs = performance.now() - backAt;
    clearInterval(sampler);
    await inFlight;
    const final = await sample();
    const worker_ = parseMetrics(await (await fetch(`${worker.url}/metrics`)).text());
    const events = await accountEvents(setup.sql, workload.records);
    const down = samples.filter((s) => s.phase !== "before");
    return {
      ledger,
      samples,
      maxLagSeconds: Math.max(0, ...down.map((s) => s.lagSeconds)),
      maxPending: Math.max(0, ...down.map((s) => s.pending)),
      lagAtEnd: final?.lagSeconds ?? Number.NaN,
      drainMs,
      requests: workload.records.length,
      acknowledged: events.acknowledged,
      operations: workload.summary(),
      events,
      worker: {
        delivered: worker_.berth_delivery_delivered_total ?? 0,
        retried: worker_.berth_delivery_retried_total ?? 0,
        deadLettered: worker_.berth_delivery_dead_lettered_total ?? 0,
      },
    };
  } finally {
    if (sampler) clearInterval(sampler);
    await setup?.close().catch(() => {});
    await Promise.all(running.map((p) => p.stop()));
    await pg.destroy();
  }
}
