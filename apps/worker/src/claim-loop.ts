import { claimForDelivery, type DeliveryRow, type Sql } from "@berth/db";
import type { Logger } from "pino";
import type { WorkerMetrics } from "./metrics";

export interface ClaimLoopOptions {
  sql: Sql;
  workerId: string;
  batchSize: number;
  leaseMs: number;
  pollMs: number;
  concurrency: number;
  /** Lease a batch (default: the tracker's, from the outbox). */
  claim?: () => Promise<DeliveryRow[]>;
  /** Deliver a claimed batch and settle it. */
  handle: (rows: DeliveryRow[]) => Promise<void>;
  /** Give back what was claimed while stopping. */
  release: (rows: DeliveryRow[]) => Promise<void>;
  metrics: WorkerMetrics;
  log: Logger;
}

/**
 * `concurrency` loops that each lease a batch (FOR UPDATE SKIP LOCKED, so any number of
 * loops and processes share the outbox safely) and hand it on. Idle loops sleep until an
 * outbox notification, or poll.
 */
export class ClaimLoops {
  private readonly waiters: (() => void)[] = [];
  /** Events may have been committed since the latest claim began. */
  private dirty = false;
  /** Claim statements in flight. */
  private claiming = 0;
  private stopping = false;
  private loops: Promise<void>[] = [];

  constructor(private readonly o: ClaimLoopOptions) {}

  start(): void {
    this.loops = Array.from({ length: this.o.concurrency }, (_, n) => this.loop(n));
  }

  /**
   * A notification. While a claim is in flight, newly committed events wait for the claim
   * that follows it rather than each waking a loop: at a thousand events a second this turns
   * a thousand one-event batches into a few hundred small ones, at no cost in latency.
   */
  notified(): void {
    if (this.claiming > 0) this.dirty = true;
    else this.wakeOne();
  }

  wakeAll(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Stop claiming; resolves once every loop has finished its batch. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wakeAll();
    await Promise.all(this.loops);
  }

  /** Wake one idle loop, or mark that work may have arrived meanwhile. */
  private wakeOne(): void {
    const w = this.waiters.shift();
    if (w) w();
    else this.dirty = true;
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        const i = this.waiters.indexOf(done);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.push(done);
    });
  }

  private async loop(n: number): Promise<void> {
    const o = this.o;
    // Spread the polling of idle loops so they do not query in lockstep.
    const pollMs = Math.round(o.pollMs * (1 + n / o.concurrency / 2));
    while (!this.stopping) {
      let rows: DeliveryRow[];
      this.dirty = false;
      this.claiming++;
      try {
        rows = o.claim
          ? await o.claim()
          : await claimForDelivery(o.sql, {
              limit: o.batchSize,
              leaseMs: o.leaseMs,
              workerId: o.workerId,
            });
      } catch (error) {
        this.claiming--;
        if (this.stopping) break;
        o.log.error({ err: error }, "claim failed");
        await this.idle(pollMs);
        continue;
      }
      this.claiming--;
      o.metrics.claims.inc({ found: rows.length > 0 ? "yes" : "no" });
      if (this.stopping) {
        await o.release(rows);
        break;
      }
      if (rows.length === 0) {
        if (!this.dirty) await this.idle(pollMs);
        continue;
      }
      // A full batch means a backlog, and a notification during the claim new events: either
      // way another loop claims while this one delivers.
      if (rows.length >= o.batchSize || this.dirty) this.wakeOne();
      o.metrics.inFlight.inc(rows.length);
      try {
        await o.handle(rows);
      } catch (error) {
        o.log.error({ err: error }, "delivery failed; leases will expire and the batch be retried");
      } finally {
        o.metrics.inFlight.dec(rows.length);
      }
    }
  }
}
