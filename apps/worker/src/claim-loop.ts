import {
  type ClaimCursor,
  claimForDelivery,
  cursorAfter,
  type DeliveryRow,
  type Sql,
} from "@berth/db";
import type { Logger } from "pino";
import type { WorkerMetrics } from "./metrics";

export interface ClaimLoopOptions {
  sql: Sql;
  workerId: string;
  batchSize: number;
  leaseMs: number;
  pollMs: number;
  concurrency: number;
  /** Default HOLD_MS. */
  holdMs?: number;
  /** Lease a batch, from `after` on when given (default: the tracker's, from the outbox). */
  claim?: (after: ClaimCursor | undefined) => Promise<DeliveryRow[]>;
  /** Deliver a claimed batch and settle it. */
  handle: (rows: DeliveryRow[]) => Promise<void>;
  /** Give back what was claimed while stopping. */
  release: (rows: DeliveryRow[]) => Promise<void>;
  metrics: WorkerMetrics;
  log: Logger;
}

/** How often, at the least, a claim starts from the head of the queue rather than the cursor. */
const HEAD_EVERY_MS = 1000;

/**
 * How long after a batch's delivery began the events committed meanwhile still wait for it;
 * its loop claims again as soon as the delivery is settled. Waking an idle loop at once for
 * each notification split a steady rate into overlapping batches of one or two events, about
 * half of whose claims found nothing: at 1,000 events/s ~2 events per ingestion request and
 * ~15% more CPU across the processes than with the hold (issue 15). Bounded, so that a slow
 * destination holds the events behind it for this long at most: when every delivery in
 * flight began longer ago, a notification wakes a loop at once, as before.
 */
export const HOLD_MS = 100;

/**
 * `concurrency` loops that each lease a batch (FOR UPDATE SKIP LOCKED, so any number of
 * loops and processes share the outbox safely) and hand it on. Idle loops sleep until an
 * outbox notification, or poll.
 *
 * The loops of a process claim one at a time, each claim starting after the last batch
 * handed out (a cursor in the pending index's order) rather than at the head, where the
 * batches still in flight lie: a claim from the head walks over every row of them, and with
 * four batches of 1,000 in flight that doubled the claim's CPU in Postgres. A claim starts
 * from the head again when the previous one came back short (the queue's end was reached, so
 * whatever was left behind, by a late commit or an expired lease, is picked up next), and at
 * least once a second. Claims are a few ms; deliveries still overlap.
 */
export class ClaimLoops {
  private readonly waiters: (() => void)[] = [];
  /** Events may have been committed since the latest claim began. */
  private dirty = false;
  /** Claim statements in flight. */
  private claiming = 0;
  /** Batches being delivered, and when the latest of them began (performance.now()). */
  private delivering = 0;
  private deliveryBegan = 0;
  /** Wakes a loop once the held events have waited HOLD_MS. */
  private holdTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private loops: Promise<void>[] = [];
  /** Where the next claim starts; undefined: at the head. */
  private cursor: ClaimCursor | undefined;
  private headAt = 0;
  /** The claim in flight: the next waits for it (and for its cursor). */
  private claimed: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: ClaimLoopOptions) {}

  start(): void {
    this.loops = Array.from({ length: this.o.concurrency }, (_, n) => this.loop(n));
  }

  /**
   * A notification. While a claim is in flight, newly committed events wait for the claim
   * that follows it rather than each waking a loop: at a thousand events a second this turns
   * a thousand one-event batches into a few hundred small ones, at no cost in latency. While
   * a batch is being delivered they wait for its loop's next claim (`holdOrWake`).
   */
  notified(): void {
    if (this.claiming > 0) this.dirty = true;
    else this.holdOrWake();
  }

  /**
   * New events wait for the loop of the latest delivery to claim them, until HOLD_MS after
   * that delivery began; past it (or with nothing being delivered) an idle loop claims them.
   */
  private holdOrWake(): void {
    this.dirty = true;
    if (this.holdTimer || this.stopping) return;
    const holdMs = this.o.holdMs ?? HOLD_MS;
    const wait = this.delivering > 0 ? this.deliveryBegan + holdMs - performance.now() : 0;
    if (wait <= 0) {
      this.wakeOne();
      return;
    }
    this.holdTimer = setTimeout(() => {
      this.holdTimer = undefined;
      // Looked at again: a delivery may have begun since, or a claim taken the events.
      if (this.dirty && this.claiming === 0) this.holdOrWake();
    }, wait);
  }

  wakeAll(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Stop claiming; resolves once every loop has finished its batch. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.holdTimer);
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

  /** One claim at a time, each from the cursor the previous one left. */
  private claimNext(): Promise<DeliveryRow[]> {
    const o = this.o;
    const next = this.claimed.then(async () => {
      const now = Date.now();
      if (now - this.headAt >= HEAD_EVERY_MS) this.cursor = undefined;
      const after = this.cursor;
      if (!after) this.headAt = now;
      let rows: DeliveryRow[];
      try {
        rows = o.claim
          ? await o.claim(after)
          : await claimForDelivery(o.sql, {
              limit: o.batchSize,
              leaseMs: o.leaseMs,
              workerId: o.workerId,
              after,
            });
      } catch (error) {
        this.cursor = undefined;
        throw error;
      }
      this.cursor = rows.length >= o.batchSize ? cursorAfter(rows) : undefined;
      return rows;
    });
    this.claimed = next.catch(() => {});
    return next;
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
        rows = await this.claimNext();
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
      o.metrics.inFlight.inc(rows.length);
      this.delivering++;
      this.deliveryBegan = performance.now();
      // A full batch means a backlog: another loop claims while this one delivers. Events
      // committed during the claim wait for this loop's next one (HOLD_MS at most).
      if (rows.length >= o.batchSize) this.wakeOne();
      else if (this.dirty) this.holdOrWake();
      try {
        await o.handle(rows);
      } catch (error) {
        o.log.error({ err: error }, "delivery failed; leases will expire and the batch be retried");
      } finally {
        this.delivering--;
        o.metrics.inFlight.dec(rows.length);
      }
    }
  }
}
