import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import { DEFAULT_ROUTING, parseRoutingTable, type RoutingTable } from "@berth/core";
import { type Db, OUTBOX_CHANNEL, registerDestinations } from "@berth/db";
import {
  checkHttpUrl,
  DEFAULT_INGESTION_KEY,
  parseRegionTable,
  type RegionTable,
} from "@berth/tracker-client";
import { drizzle } from "drizzle-orm/postgres-js";
import pino, { type Logger } from "pino";
import postgres from "postgres";
import { ClaimLoops } from "./claim-loop";
import { WORKER_DEFAULTS, type WorkerSettings } from "./config";
import { BatchDelivery, type WorkerStats } from "./deliver";
import { type DestinationSpec, describe, isOrdered } from "./destination-config";
import { destinationsOf } from "./destinations";
import { DestinationDelivery, type DestinationStatsCounters } from "./fanout";
import { workerMetrics } from "./metrics";
import { Sender } from "./send";
import { settle } from "./settle";
import { type StatusServer, serveStatus } from "./status-server";

export type { WorkerStats } from "./deliver";

export interface WorkerOptions extends Partial<Omit<WorkerSettings, "trackerKeys" | "routing">> {
  databaseUrl: string;
  /** Ingestion keys: one for every region, `region=key,...`, or a parsed table. */
  trackerKeys?: string | RegionTable;
  /** A routing table, or its spec (a built-in name, inline list or JSON). */
  routing?: RoutingTable | string;
  /**
   * The destinations beside the tracker (BERTH_DESTINATIONS). They are registered at start,
   * replacing what was registered before: every worker must be given the same list.
   */
  destinations?: DestinationSpec[];
  /** Serve /metrics, /healthz and /readyz (default true). */
  serveMetrics?: boolean;
  workerId?: string;
  /** How long a delivery holds the events committed meanwhile (default HOLD_MS; tests). */
  holdMs?: number;
  logger?: Logger;
}

export interface RunningWorker {
  workerId: string;
  /** Base URL of the metrics/health server (undefined when not served). */
  url?: string;
  stats(): WorkerStats;
  /** Per destination beside the tracker: what this worker delivered, retried, dead-lettered. */
  destinationStats(): Record<string, DestinationStatsCounters>;
  metrics(): Promise<string>;
  /** Stop claiming, finish in-flight requests (or give their leases back), close. */
  stop(): Promise<void>;
}

/** The options filled in with the defaults, tables parsed. */
function settingsOf(opts: WorkerOptions): WorkerSettings {
  const s: WorkerSettings = {
    ...WORKER_DEFAULTS,
    trackerUrl: opts.trackerUrl ?? `http://127.0.0.1:7400`,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
    trackerKeys:
      typeof opts.trackerKeys === "object"
        ? opts.trackerKeys
        : parseRegionTable("BERTH_TRACKER_KEYS", opts.trackerKeys ?? DEFAULT_INGESTION_KEY),
    routing:
      typeof opts.routing === "string"
        ? parseRoutingTable(opts.routing)
        : (opts.routing ?? DEFAULT_ROUTING),
  };
  parseRegionTable("BERTH_TRACKER_URL", s.trackerUrl, checkHttpUrl);
  return s;
}

/**
 * The outbox worker, put together from its parts: claim loops lease batches (claim-loop),
 * every event is routed to its tracker region and sent, one ingestion request per region and
 * size bound (deliver, send), the batch is settled in one statement (settle): delivered rows
 * deleted, transient failures retried with backoff, rejected events dead-lettered. A crash
 * leaves only leases, which expire: at-least-once delivery, made exactly-once for the tenant
 * by the tracker's dedupe on event id. /metrics and health are served on the side
 * (status-server).
 */
export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
  const s = settingsOf(opts);
  const log = opts.logger ?? pino({ level: "info" });
  const workerId = opts.workerId ?? `worker-${randomBytes(4).toString("hex")}`;

  // The worker's own writes need no durability: a lost claim is an unleased row, a lost
  // delete or dead-letter a redelivery that the tracker deduplicates. So its commits do not
  // wait for the WAL flush (the tracker's commits, which acknowledge events, still do).
  //
  // And it never wants a sequential scan: right after a vacuum the statistics say the outbox
  // is nearly empty, the planner then picks a scan and sort for the claim, and that plan grows
  // slower with every dead row until the next vacuum; the pending index keeps a claim at the
  // same cost however large the table has been.
  //
  // Which makes JIT compilation harmful: a statement that has to scan (the outbox counts of
  // /metrics, the driver's type lookup when it connects) is costed above 10^10 and so was
  // compiled, inlined and optimised by LLVM each time, 370-860 ms of Postgres CPU (seen with
  // auto_explain) for statements that run in a millisecond. None of the worker's statements is
  // long enough for JIT to pay off.
  const sql = postgres(opts.databaseUrl, {
    max: s.concurrency + 2,
    onnotice: () => {},
    connection: {
      application_name: "berth-worker",
      synchronous_commit: "off",
      enable_seqscan: "off",
      jit: "off",
    },
  });
  // For outboxStats (metrics); it uses only the query builder, no relational queries.
  const metrics = workerMetrics(drizzle(sql) as unknown as Db);
  const sender = new Sender(s.concurrency * 8);
  const abort = new AbortController();
  // Every request in flight listens on the one shutdown signal.
  setMaxListeners(0, abort.signal);
  const stats: WorkerStats = { requests: 0, delivered: 0, retried: 0, deadLettered: 0, batches: 0 };

  const destination = destinationsOf(s);
  for (const to of new Set(Object.values(s.routing.routes))) {
    const d = destination(to);
    if (typeof d === "string")
      log.warn({ routing: s.routing.name }, `${d}: its events will be dead-lettered`);
  }
  const delivery = new BatchDelivery({
    settings: s,
    destination,
    sender,
    signal: abort.signal,
    metrics,
    stats,
    log,
  });
  const loops = new ClaimLoops({
    sql,
    workerId,
    batchSize: s.batchSize,
    leaseMs: s.leaseMs,
    pollMs: s.pollMs,
    concurrency: s.concurrency,
    holdMs: opts.holdMs,
    async handle(rows) {
      if (await settle(sql, await delivery.deliver(rows), log)) stats.batches++;
    },
    async release(rows) {
      if (await settle(sql, { released: rows.map((r) => r.id) }, log)) stats.batches++;
    },
    metrics,
    log,
  });

  const specs = opts.destinations ?? [];
  await registerDestinations(
    drizzle(sql) as unknown as Db,
    specs.map((d) => ({ name: d.name, filter: d.filter ?? {}, ordered: isOrdered(d) })),
  );
  const fanout = await Promise.all(
    specs.map((spec) =>
      DestinationDelivery.create(spec, {
        sql,
        workerId,
        settings: s,
        sender,
        signal: abort.signal,
        metrics,
        log,
      }),
    ),
  );
  const allLoops = [loops, ...fanout.map((f) => f.loops)];

  const listener = await sql.listen(
    OUTBOX_CHANNEL,
    () => {
      for (const l of allLoops) l.notified();
    },
    () => {
      for (const l of allLoops) l.wakeAll();
    },
  );
  for (const l of allLoops) l.start();

  let status: StatusServer | undefined;
  if (opts.serveMetrics !== false) {
    status = await serveStatus({
      host: s.host,
      port: s.port,
      registry: metrics.registry,
      ready: () => sql`select 1`.execute(),
      log,
    });
  }
  log.info(
    {
      workerId,
      routing: s.routing.name,
      concurrency: s.concurrency,
      batchSize: s.batchSize,
      destinations: specs.map(describe),
    },
    "worker started",
  );

  let stopped: Promise<void> | undefined;
  return {
    workerId,
    url: status?.url,
    stats: () => ({ ...stats }),
    destinationStats: () => Object.fromEntries(fanout.map((f) => [f.spec.name, { ...f.counters }])),
    metrics: () => metrics.registry.metrics(),
    stop() {
      stopped ??= (async () => {
        // In-flight requests may finish; past the grace period they are cut and their
        // events released (sent again by whoever claims them next).
        const grace = setTimeout(() => abort.abort(), s.shutdownGraceMs);
        await Promise.all(allLoops.map((l) => l.stop()));
        clearTimeout(grace);
        await Promise.all(fanout.map((f) => f.transport.close()));
        await listener.unlisten().catch(() => {});
        await status?.close();
        sender.close();
        await sql.end({ timeout: 5 });
        log.info({ workerId, ...stats }, "worker stopped");
      })();
      return stopped;
    },
  };
}
