import { type RoutingTable, routeEvent } from "@berth/core";
import type { DeliveryRow, Settlement } from "@berth/db";
import type { IngestResponse } from "@berth/tracker-client";
import type { Logger } from "pino";
import { backoffDelay, retryAfterMs } from "./backoff";
import { bodyOf, type Chunk, chunk, halves } from "./batch";
import type { WorkerSettings } from "./config";
import type { Destination } from "./destinations";
import type { WorkerMetrics } from "./metrics";
import { AbortedError, type Sender, TransientError } from "./send";

export interface WorkerStats {
  /** Ingestion requests sent (answered or not). */
  requests: number;
  delivered: number;
  retried: number;
  deadLettered: number;
  /** Claimed batches settled. */
  batches: number;
}

/** A batch's outcome, every claimed id in exactly one list. */
type Outcome = Required<Settlement>;

/** Rejections of the batch itself: a smaller batch (in the end, one event) isolates the cause. */
const BATCH_REJECTIONS = new Set([400, 413, 415, 422]);

export interface DeliveryDeps {
  settings: Pick<
    WorkerSettings,
    | "maxLines"
    | "maxBytes"
    | "maxAttempts"
    | "retryBaseMs"
    | "retryMaxMs"
    | "requestTimeoutMs"
    | "hostname"
  > & { routing: RoutingTable };
  destination: (trackerRegion: string) => Destination | string;
  sender: Sender;
  /** Shutdown: requests still in flight are cut and their events released. */
  signal: AbortSignal;
  metrics: WorkerMetrics;
  stats: WorkerStats;
  log: Logger;
}

/**
 * The sending half of the worker: a claimed batch is routed to its tracker regions, sent as
 * one ingestion request per region and size bound, and its outcome worked out: delivered,
 * retried with backoff, or dead-lettered. It writes nothing; the caller settles the outcome.
 */
export class BatchDelivery {
  constructor(private readonly d: DeliveryDeps) {}

  async deliver(rows: DeliveryRow[]): Promise<Outcome> {
    const { metrics, stats, log } = this.d;
    const out: Outcome = { delivered: [], retries: [], dead: [], released: [] };
    const groups = new Map<Destination, DeliveryRow[]>();
    for (const row of rows) {
      let to: string;
      try {
        to = routeEvent(row.region, this.d.settings.routing);
      } catch (error) {
        out.dead.push({ id: row.id, reason: (error as Error).message });
        continue;
      }
      const d = this.d.destination(to);
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
    const s = this.d.settings;
    const sends: Promise<void>[] = [];
    for (const [d, g] of groups) {
      for (const c of chunk(g, s.maxLines, s.maxBytes)) sends.push(this.send(d, c, out));
    }
    await Promise.all(sends);
    return out;
  }

  private async send(d: Destination, c: Chunk, out: Outcome): Promise<void> {
    const { settings: s, metrics, stats, log } = this.d;
    const started = performance.now();
    const url = new URL(d.url);
    url.searchParams.set("hostname", s.hostname);
    url.searchParams.set("now", String(Date.now()));
    stats.requests++;
    let res: Awaited<ReturnType<Sender["post"]>>;
    try {
      res = await this.d.sender.post(
        url,
        bodyOf(c),
        { authorization: d.auth },
        { timeoutMs: s.requestTimeoutMs, signal: this.d.signal },
      );
    } catch (error) {
      if (error instanceof AbortedError) {
        // Shutdown gave up waiting: the tracker may or may not have them; send again later.
        out.released.push(...c.rows.map((r) => r.id));
        return;
      }
      metrics.batchSeconds.observe(
        { region: d.region, outcome: "error" },
        (performance.now() - started) / 1000,
      );
      const reason =
        error instanceof TransientError && error.kind === "timeout"
          ? "tracker did not answer in time"
          : "tracker unreachable";
      this.retryOrBury(
        out,
        d,
        c.rows,
        reason,
        `${d.url.origin}${d.url.pathname}: ${String(error)}`,
      );
      return;
    }
    const seconds = (performance.now() - started) / 1000;
    if (res.status >= 200 && res.status < 300) {
      metrics.batchSeconds.observe({ region: d.region, outcome: "ok" }, seconds);
      this.settleAnswered(d, c, res.body, out);
      return;
    }
    metrics.batchSeconds.observe({ region: d.region, outcome: String(res.status) }, seconds);
    // The tracker's address and answer are the operator's (logged); the tenant is told which
    // kind of failure it was (stored as the reason, shown by delivery.dead).
    const detail = `${d.url.origin}${d.url.pathname} answered ${res.status}: ${res.body.slice(0, 300)}`;
    if (BATCH_REJECTIONS.has(res.status)) {
      if (c.rows.length > 1) {
        const [a, b] = halves(c);
        await Promise.all([this.send(d, a, out), this.send(d, b, out)]);
        return;
      }
      const row = c.rows[0]!;
      out.dead.push({ id: row.id, reason: `tracker rejected the event (${res.status})` });
      metrics.deadLettered.inc({ region: d.region });
      stats.deadLettered++;
      log.error(
        { region: d.region, id: row.id, status: res.status, detail },
        "event rejected, dead-lettered",
      );
      return;
    }
    // 401/403/404 are configuration problems and 408/429/5xx passing ones: neither is the
    // events' fault, so they wait (and dead-letter only after maxAttempts).
    this.retryOrBury(
      out,
      d,
      c.rows,
      answerReason(res.status),
      detail,
      retryAfterMs(res.retryAfter),
    );
  }

  /** `reason` is stored for the tenant to read; `detail` goes to the log only. */
  private retryOrBury(
    out: Outcome,
    d: Destination,
    rows: DeliveryRow[],
    reason: string,
    detail: string,
    minDelayMs = 0,
  ) {
    const { settings: s, metrics, stats, log } = this.d;
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
        out.dead.push({ id: r.id, reason: `gave up after ${r.attempts} attempts: ${reason}` });
        buried++;
      } else {
        out.retries.push({ id: r.id, delayMs, error: reason });
        retried++;
      }
    }
    metrics.retried.inc({ region: d.region }, retried);
    metrics.deadLettered.inc({ region: d.region }, buried);
    stats.retried += retried;
    stats.deadLettered += buried;
    log.warn(
      { region: d.region, events: rows.length, attempts, delayMs, error: detail },
      buried > 0 ? "delivery failed, gave up on some events" : "delivery failed, will retry",
    );
  }

  /** A 2xx: everything is stored unless the per-event results reject some. */
  private settleAnswered(d: Destination, c: Chunk, body: string, out: Outcome) {
    const { metrics, stats, log } = this.d;
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
        out.dead.push({ id: row.id, reason: "tracker rejected the event" });
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
        {
          region: d.region,
          rejected: [...rejected].slice(0, 5).map(([i, why]) => ({ id: c.rows[i]?.id, why })),
        },
        `${rejected.size} events rejected, dead-lettered`,
      );
    }
  }
}

/** What a tenant is told about an answer that is neither a success nor a rejection of the events. */
function answerReason(status: number): string {
  if (status === 401 || status === 403) return `tracker refused the ingestion key (${status})`;
  if (status === 404) return "tracker does not serve the region (404)";
  if (status === 408 || status === 429 || status >= 500) return `tracker unavailable (${status})`;
  return `tracker answered ${status}`;
}
