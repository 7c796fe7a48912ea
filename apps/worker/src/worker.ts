import { randomBytes } from "node:crypto";
import { setMaxListeners } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { DEFAULT_ROUTING, parseRoutingTable, type RoutingTable, routeEvent } from "@berth/core";
import {
  claimForDelivery,
  type Db,
  type DeliveryRow,
  OUTBOX_CHANNEL,
  type Settlement,
  settleDeliveries,
} from "@berth/db";
import {
  checkHttpUrl,
  DEFAULT_INGESTION_KEY,
  type IngestResponse,
  lookupRegion,
  parseRegionTable,
  type RegionTable,
  trackerEndpoint,
} from "@berth/tracker-client";
import { drizzle } from "drizzle-orm/postgres-js";
import pino, { type Logger } from "pino";
import postgres from "postgres";
import { backoffDelay, retryAfterMs } from "./backoff";
import { bodyOf, type Chunk, chunk, halves } from "./batch";
import { WORKER_DEFAULTS, type WorkerSettings } from "./config";
import { workerMetrics } from "./metrics";
import { AbortedError, Sender, TransientError } from "./send";

export interface WorkerOptions extends Partial<Omit<WorkerSettings, "trackerKeys" | "routing">> {
  databaseUrl: string;
  /** Ingestion keys: one for every region, `region=key,...`, or a parsed table. */
  trackerKeys?: string | RegionTable;
  /** A routing table, or its spec (a built-in name, inline list or JSON). */
  routing?: RoutingTable | string;
  /** Serve /metrics, /healthz and /readyz (default true). */
  serveMetrics?: boolean;
  workerId?: string;
  logger?: Logger;
}

export interface WorkerStats {
  /** Ingestion requests sent (answered or not). */
  requests: number;
  delivered: number;
  retried: number;
  deadLettered: number;
  /** Claimed batches settled. */
  batches: number;
}

export interface RunningWorker {
  workerId: string;
  /** Base URL of the metrics/health server (undefined when not served). */
  url?: string;
  stats(): WorkerStats;
  metrics(): Promise<string>;
  /** Stop claiming, finish in-flight requests (or give their leases back), close. */
  stop(): Promise<void>;
}

interface Destination {
  region: string;
  url: URL;
  auth: string;
}

/** Rejections of the batch itself: a smaller batch (in the end, one event) isolates the cause. */
const BATCH_REJECTIONS = new Set([400, 413, 415, 422]);

/**
 * The outbox worker. Several claim loops each lease a batch (FOR UPDATE SKIP LOCKED, so any
 * number of loops and processes share the outbox safely), route every event to its tracker
 * region, send one ingestion request per region and size bound, and settle the batch in one
 * statement: delivered rows are deleted, transient failures retried with backoff, rejected
 * events dead-lettered. A crash leaves only leases, which expire: at-least-once delivery,
 * made exactly-once for the tenant by the tracker's dedupe on event id.
 */
export async function startWorker(opts: WorkerOptions): Promise<RunningWorker> {
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
  const sql = postgres(opts.databaseUrl, {
    max: s.concurrency + 2,
    onnotice: () => {},
    connection: {
      application_name: "berth-worker",
      synchronous_commit: "off",
      enable_seqscan: "off",
    },
  });
  // For outboxStats (metrics); it uses only the query builder, no relational queries.
  const db = drizzle(sql) as unknown as Db;
  const metrics = workerMetrics(db);
  const sender = new Sender(s.concurrency * 8);
  const abort = new AbortController();
  // Every request in flight listens on the one shutdown signal.
  setMaxListeners(0, abort.signal);
  const stats: WorkerStats = { requests: 0, delivered: 0, retried: 0, deadLettered: 0, batches: 0 };

  const destinations = new Map<string, Destination | string>();
  /** Where a tracker region's events go, or why they cannot go anywhere. */
  function destination(trackerRegion: string): Destination | string {
    let d = destinations.get(trackerRegion);
    if (d === undefined) {
      const endpoint = trackerEndpoint(s.trackerUrl, trackerRegion);
      const key = lookupRegion(s.trackerKeys, trackerRegion);
      if (!endpoint) d = `no tracker endpoint is configured for region ${trackerRegion}`;
      else if (!key) d = `no ingestion key is configured for region ${trackerRegion}`;
      else {
        d = {
          region: trackerRegion,
          url: new URL(`${endpoint}/logs/ingest`),
          auth: `Basic ${Buffer.from(`${key}:`).toString("base64")}`,
        };
      }
      destinations.set(trackerRegion, d);
    }
    return d;
  }
  for (const to of new Set(Object.values(s.routing.routes))) {
    const d = destination(to);
    if (typeof d === "string")
      log.warn({ routing: s.routing.name }, `${d}: its events will be dead-lettered`);
  }

  // ---- sending -------------------------------------------------------------------------

  interface Outcome {
    delivered: string[];
    retries: { id: string; delayMs: number; error: string }[];
    dead: { id: string; reason: string }[];
    released: string[];
  }

  function retryOrBury(
    out: Outcome,
    d: Destination,
    rows: DeliveryRow[],
    error: string,
    minDelayMs = 0,
  ) {
    const attempts = Math.max(...rows.map((r) => r.attempts));
    // One delay for the whole request keeps its events together for the next try.
    const delayMs = Math.max(
      minDelayMs,
      backoffDelay(attempts, { baseMs: s.retryBaseMs, maxMs: s.retryMaxMs }),
    );
    let retried = 0;
    let buried = 0;
    for (const r of rows) {
      if (r.attempts >= s.maxAttempts) {
        out.dead.push({ id: r.id, reason: `gave up after ${r.attempts} attempts: ${error}` });
        buried++;
      } else {
        out.retries.push({ id: r.id, delayMs, error });
        retried++;
      }
    }
    metrics.retried.inc({ region: d.region }, retried);
    metrics.deadLettered.inc({ region: d.region }, buried);
    stats.retried += retried;
    stats.deadLettered += buried;
    log.warn(
      { region: d.region, events: rows.length, attempts, delayMs, error },
      "delivery failed, will retry",
    );
  }

  async function send(d: Destination, c: Chunk, out: Outcome): Promise<void> {
    const started = performance.now();
    const url = new URL(d.url);
    url.searchParams.set("hostname", s.hostname);
    url.searchParams.set("now", String(Date.now()));
    stats.requests++;
    let res: Awaited<ReturnType<Sender["post"]>>;
    try {
      res = await sender.post(
        url,
        bodyOf(c),
        { authorization: d.auth },
        { timeoutMs: s.requestTimeoutMs, signal: abort.signal },
      );
    } catch (error) {
      if (error instanceof AbortedError) {
        // Shutdown gave up waiting: the tracker may or may not have them; send again later.
        out.released.push(...c.rows.map((r) => r.id));
        return;
      }
      const message = error instanceof TransientError ? error.message : String(error);
      metrics.batchSeconds.observe(
        { region: d.region, outcome: "error" },
        (performance.now() - started) / 1000,
      );
      retryOrBury(out, d, c.rows, message);
      return;
    }
    const seconds = (performance.now() - started) / 1000;
    if (res.status >= 200 && res.status < 300) {
      metrics.batchSeconds.observe({ region: d.region, outcome: "ok" }, seconds);
      settleAnswered(d, c, res.body, out);
      return;
    }
    metrics.batchSeconds.observe({ region: d.region, outcome: String(res.status) }, seconds);
    const detail = `${d.url.origin}${d.url.pathname} answered ${res.status}: ${res.body.slice(0, 300)}`;
    if (BATCH_REJECTIONS.has(res.status)) {
      if (c.rows.length > 1) {
        const [a, b] = halves(c);
        await Promise.all([send(d, a, out), send(d, b, out)]);
        return;
      }
      const row = c.rows[0]!;
      out.dead.push({ id: row.id, reason: detail });
      metrics.deadLettered.inc({ region: d.region });
      stats.deadLettered++;
      log.error(
        { region: d.region, id: row.id, status: res.status },
        "event rejected, dead-lettered",
      );
      return;
    }
    // 401/403/404 are configuration problems and 408/429/5xx passing ones: neither is the
    // events' fault, so they wait (and dead-letter only after maxAttempts).
    retryOrBury(out, d, c.rows, detail, retryAfterMs(res.retryAfter));
  }

  /** A 2xx: everything is stored unless the per-event results reject some. */
  function settleAnswered(d: Destination, c: Chunk, body: string, out: Outcome) {
    let results: IngestResponse["results"] | undefined;
    try {
      const parsed = JSON.parse(body) as Partial<IngestResponse>;
      if (Array.isArray(parsed.results)) results = parsed.results;
    } catch {
      // A plain ingestion service answers without per-event results: all were taken.
    }
    const rejected = new Map<number, string>();
    for (const r of results ?? []) {
      if (r?.status === "rejected" && typeof r.index === "number") {
        rejected.set(r.index, r.reason ?? "rejected");
      }
    }
    const now = Date.now();
    let delivered = 0;
    c.rows.forEach((row, i) => {
      const reason = rejected.get(i);
      if (reason !== undefined) {
        out.dead.push({ id: row.id, reason: `rejected by the ${d.region} tracker: ${reason}` });
      } else {
        out.delivered.push(row.id);
        metrics.latencySeconds.observe((now - row.createdAt.getTime()) / 1000);
        delivered++;
      }
    });
    metrics.delivered.inc({ region: d.region }, delivered);
    stats.delivered += delivered;
    if (rejected.size > 0) {
      metrics.deadLettered.inc({ region: d.region }, rejected.size);
      stats.deadLettered += rejected.size;
      log.error(
        { region: d.region, rejected: [...rejected.values()].slice(0, 3) },
        `${rejected.size} events rejected, dead-lettered`,
      );
    }
  }

  async function deliver(rows: DeliveryRow[]): Promise<void> {
    const out: Outcome = { delivered: [], retries: [], dead: [], released: [] };
    const groups = new Map<Destination, DeliveryRow[]>();
    for (const row of rows) {
      let to: string;
      try {
        to = routeEvent(row.region, s.routing);
      } catch (error) {
        out.dead.push({ id: row.id, reason: (error as Error).message });
        continue;
      }
      const d = destination(to);
      if (typeof d === "string") {
        out.dead.push({ id: row.id, reason: d });
        continue;
      }
      const g = groups.get(d);
      if (g) g.push(row);
      else groups.set(d, [row]);
    }
    const unroutable = out.dead.length;
    if (unroutable > 0) {
      stats.deadLettered += unroutable;
      metrics.deadLettered.inc({ region: "none" }, unroutable);
      log.error(
        { reason: out.dead[0]?.reason, events: unroutable },
        "unroutable events dead-lettered",
      );
    }
    const sends: Promise<void>[] = [];
    for (const [d, g] of groups) {
      for (const c of chunk(g, s.maxLines, s.maxBytes)) sends.push(send(d, c, out));
    }
    await Promise.all(sends);
    await settle(out);
  }

  async function settle(out: Settlement): Promise<void> {
    // Settling must not be lost to a passing database error, or the batch would be sent
    // again after its lease; retry briefly, then let the lease do its job.
    for (let attempt = 1; ; attempt++) {
      try {
        await settleDeliveries(sql, out);
        stats.batches++;
        return;
      } catch (error) {
        if (attempt >= 5) {
          log.error(
            { err: error },
            "could not settle a batch; its leases will expire and it will be sent again",
          );
          return;
        }
        await sleep(100 * attempt);
      }
    }
  }

  // ---- claiming ------------------------------------------------------------------------

  const waiters: (() => void)[] = [];
  /** Events may have been committed since the latest claim began. */
  let dirty = false;
  /** Claim statements in flight. */
  let claiming = 0;
  let stopping = false;

  /** Wake one idle loop, or mark that work may have arrived meanwhile. */
  function wakeOne() {
    const w = waiters.shift();
    if (w) w();
    else dirty = true;
  }
  /**
   * A notification. While a claim is in flight, newly committed events wait for the claim
   * that follows it rather than each waking a loop: at a thousand events a second this turns
   * a thousand one-event batches into a few hundred small ones, at no cost in latency.
   */
  function notified() {
    if (claiming > 0) dirty = true;
    else wakeOne();
  }
  function wakeAll() {
    for (const w of waiters.splice(0)) w();
  }
  function idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        const i = waiters.indexOf(done);
        if (i >= 0) waiters.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiters.push(done);
    });
  }

  async function loop(n: number): Promise<void> {
    // Spread the polling of idle loops so they do not query in lockstep.
    const pollMs = Math.round(s.pollMs * (1 + n / s.concurrency / 2));
    while (!stopping) {
      let rows: DeliveryRow[];
      dirty = false;
      claiming++;
      try {
        rows = await claimForDelivery(sql, { limit: s.batchSize, leaseMs: s.leaseMs, workerId });
      } catch (error) {
        claiming--;
        if (stopping) break;
        log.error({ err: error }, "claim failed");
        await idle(pollMs);
        continue;
      }
      claiming--;
      metrics.claims.inc({ found: rows.length > 0 ? "yes" : "no" });
      if (stopping) {
        await settle({ released: rows.map((r) => r.id) });
        break;
      }
      if (rows.length === 0) {
        if (!dirty) await idle(pollMs);
        continue;
      }
      // A full batch means a backlog, and a notification during the claim new events: either
      // way another loop claims while this one delivers.
      if (rows.length >= s.batchSize || dirty) wakeOne();
      metrics.inFlight.inc(rows.length);
      try {
        await deliver(rows);
      } catch (error) {
        log.error({ err: error }, "delivery failed; leases will expire and the batch be retried");
      } finally {
        metrics.inFlight.dec(rows.length);
      }
    }
  }

  const listener = await sql.listen(
    OUTBOX_CHANNEL,
    () => notified(),
    () => wakeAll(),
  );
  const loops = Array.from({ length: s.concurrency }, (_, n) => loop(n));

  // ---- health and metrics --------------------------------------------------------------

  let server: http.Server | undefined;
  let url: string | undefined;
  if (opts.serveMetrics !== false) {
    server = http.createServer((req, res) => {
      const reply = (status: number, type: string, body: string) => {
        res.writeHead(status, { "content-type": type });
        res.end(body);
      };
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/healthz") reply(200, "application/json", '{"status":"ok"}');
      else if (path === "/readyz") {
        sql`select 1`.then(
          () => reply(200, "application/json", '{"status":"ok"}'),
          (e: Error) =>
            reply(503, "application/json", JSON.stringify({ status: "error", error: e.message })),
        );
      } else if (path === "/metrics") {
        metrics.registry.metrics().then(
          (text) => reply(200, metrics.registry.contentType, text),
          (e: Error) => reply(500, "text/plain", e.message),
        );
      } else reply(404, "application/json", '{"status":"error","error":"not found"}');
    });
    await new Promise<void>((resolve, reject) => {
      server!.once("error", reject);
      server!.listen(s.port, s.host, () => resolve());
    });
    url = `http://${s.host}:${(server.address() as AddressInfo).port}`;
  }
  log.info(
    { workerId, routing: s.routing.name, concurrency: s.concurrency, batchSize: s.batchSize },
    "worker started",
  );

  let stopped: Promise<void> | undefined;
  return {
    workerId,
    url,
    stats: () => ({ ...stats }),
    metrics: () => metrics.registry.metrics(),
    stop() {
      stopped ??= (async () => {
        stopping = true;
        wakeAll();
        // In-flight requests may finish; past the grace period they are cut and their
        // events released (sent again by whoever claims them next).
        const grace = setTimeout(() => abort.abort(), s.shutdownGraceMs);
        await Promise.all(loops);
        clearTimeout(grace);
        await listener.unlisten().catch(() => {});
        const closed = new Promise<void>((resolve) =>
          server ? server.close(() => resolve()) : resolve(),
        );
        server?.closeAllConnections();
        await closed;
        sender.close();
        await sql.end({ timeout: 5 });
        log.info({ workerId, ...stats }, "worker stopped");
      })();
      return stopped;
    },
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
