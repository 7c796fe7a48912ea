import { sql } from "drizzle-orm";
import type postgres from "postgres";
import type { DbOrTx, Sql } from "../client";
import { OUTBOX_CHANNEL } from "./enqueue";

// What the two kinds of delivery ledger share: the tracker's (`outbox`) and those of the
// destinations beside it (`deliveries`). Their rows have the same lease, retry and dead-letter
// columns, so claiming, settling and redriving read and write them alike.

/** A claimed event in the form delivery needs: the payload stays JSON text end to end. */
export interface DeliveryRow {
  id: string;
  seq: number;
  /** The event's region (of the resource). */
  region: string;
  /** Attempts including this one. */
  attempts: number;
  createdAt: Date;
  /** When it became due, in µs since the epoch (exact): with seq, a claim cursor's key. */
  availableUs: number;
  /**
   * The event as JSON text, the bytes as Postgres sent them: spliced into request bodies
   * without being decoded, parsed, serialised or encoded again.
   */
  payloadBytes: Buffer;
  /** The same as a string (decoded on first use: the tracker's path never needs it). */
  readonly payload: string;
  message: string;
  severity: string;
  eventTime: string;
}

export interface Settlement {
  /** Delivered (or already held by the receiver): removed. */
  delivered?: string[];
  /** Failed transiently: due again after their delay. */
  retries?: { id: string; delayMs: number; error: string }[];
  /** Refused for good: parked with the reason. */
  dead?: { id: string; reason: string }[];
  /** Not sent (shutdown): lease given back, attempt not counted. */
  released?: string[];
}

/**
 * The columns a claim returns, after the row's id: the payload as text plus the few fields a
 * sender needs, so the worker never parses and re-serialises events it only forwards. Claims
 * read them raw (each value the bytes Postgres sent) in this order: see deliveryRows.
 */
export const CLAIMED_COLUMNS = `o.seq, o.region, o.attempts,
  (extract(epoch from o.created_at) * 1000)::int8 as created_ms,
  (extract(epoch from o.available_at) * 1000000)::int8 as available_us, o.payload::text as payload,
  o.payload->>'message' as message, o.payload->>'severity' as severity,
  o.payload->>'eventTime' as event_time`;

/** A claimed row as the driver's raw mode gives it: id, then CLAIMED_COLUMNS' values. */
export type ClaimedRow = (Buffer | null)[];

class ClaimedEvent implements DeliveryRow {
  private text: string | undefined;
  constructor(
    readonly id: string,
    readonly seq: number,
    readonly region: string,
    readonly attempts: number,
    readonly createdAt: Date,
    readonly availableUs: number,
    readonly payloadBytes: Buffer,
    readonly message: string,
    readonly severity: string,
    readonly eventTime: string,
  ) {}

  get payload(): string {
    this.text ??= this.payloadBytes.toString("utf8");
    return this.text;
  }
}

const str = (b: Buffer | null | undefined) => (b ? b.toString("utf8") : "");

/**
 * Claimed rows as delivery rows, in enqueue order. The payload is a view of the driver's
 * receive buffer (which the driver never writes again), kept only while its batch is in flight.
 */
export function deliveryRows(rows: readonly ClaimedRow[]): DeliveryRow[] {
  return rows
    .map(
      ([id, seq, region, attempts, createdMs, availableUs, payload, message, severity, time]) =>
        new ClaimedEvent(
          str(id),
          Number(str(seq)),
          str(region),
          Number(str(attempts)),
          new Date(Number(str(createdMs))),
          Number(str(availableUs)),
          payload ?? Buffer.alloc(0),
          message ? str(message) : "",
          severity ? str(severity) : "normal",
          str(time),
        ),
    )
    .sort((a, b) => a.seq - b.seq);
}

/**
 * Where a claim starts in the pending index's order (available_at, seq): after the last row of
 * the previous batch. The rows before it are mostly batches still in flight, leased or locked,
 * and a claim from the head would walk over every one of them (measured: with four batches of
 * 1,000 in flight, the claim cost its backend twice as much CPU per event as with a cursor).
 */
export interface ClaimCursor {
  availableUs: number;
  seq: number;
}

/** The cursor after a claimed batch: its last row in index order. */
export function cursorAfter(rows: readonly DeliveryRow[]): ClaimCursor | undefined {
  let last: DeliveryRow | undefined;
  for (const r of rows) {
    if (
      !last ||
      r.availableUs > last.availableUs ||
      (r.availableUs === last.availableUs && r.seq > last.seq)
    ) {
      last = r;
    }
  }
  return last && { availableUs: last.availableUs, seq: last.seq };
}

/**
 * The condition a claim with a cursor adds, as an index bound; without one it starts at the
 * epoch, before any row (one statement text either way, prepared once). The cursor goes over as
 * integer microseconds and is turned back into a timestamp exactly (no float on the way).
 */
export function afterCursor(pg: Sql, after: ClaimCursor | undefined) {
  return pg`(available_at, seq) > (timestamptz 'epoch' + ${String(after?.availableUs ?? 0)}::int8 * interval '1 microsecond', ${String(after?.seq ?? 0)}::int8)`;
}

// UUIDs (from the database itself) need no quoting inside an array literal.
const uuidArray = (ids: string[]) => `{${ids.join(",")}}`;
/** Longest error or reason kept with a row. */
const MAX_REASON = 2000;

/** Rows to dead-letter as a JSON parameter (`jsonb_to_recordset(...) as r(id uuid, reason text)`). */
export const deadReasons = (dead: { id: string; reason: string }[]) =>
  JSON.stringify(dead.map((d) => ({ id: d.id, reason: d.reason.slice(0, MAX_REASON) })));

/**
 * A settlement as statement parameters, every one text (cast in SQL), so that the statement
 * text, and its prepared plan, is the same whatever the lists hold; undefined when it is empty.
 */
export function settlementParams(s: Settlement) {
  const delivered = s.delivered ?? [];
  const retries = s.retries ?? [];
  const dead = s.dead ?? [];
  const released = s.released ?? [];
  if (delivered.length + retries.length + dead.length + released.length === 0) return undefined;
  return {
    /** Only deliveries: the usual case, which a plain delete settles. */
    deliveredOnly: retries.length + dead.length + released.length === 0,
    delivered: uuidArray(delivered),
    retries: JSON.stringify(
      retries.map((r) => ({
        id: r.id,
        delay_ms: Math.max(0, Math.round(r.delayMs)),
        error: r.error.slice(0, MAX_REASON),
      })),
    ),
    dead: deadReasons(dead),
    released: uuidArray(released),
  };
}

/** What redriving sets on a dead row of either ledger: pending again, a fresh attempt budget. */
export function redriven() {
  return {
    status: "pending" as const,
    attempts: 0,
    availableAt: sql`now()`,
    deadAt: null,
    leasedUntil: null,
    leasedBy: null,
  };
}

/** Wake the workers when rows were redriven; returns how many. */
export async function notifyRedriven(db: DbOrTx, rows: readonly unknown[]): Promise<number> {
  if (rows.length > 0) await db.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, '')`);
  return rows.length;
}

/** A dead-lettered event as operators and tenants see it. */
export interface DeadEvent {
  id: string;
  accountId: string;
  region: string;
  action: string;
  attempts: number;
  lastError: string | null;
  deadAt: Date | null;
  payload: unknown;
}

export function deadEventOf(id: string, r: Omit<DeadEvent, "id">): DeadEvent {
  return {
    id,
    accountId: r.accountId,
    region: r.region,
    action: r.action,
    attempts: r.attempts,
    lastError: r.lastError,
    deadAt: r.deadAt,
    payload: r.payload,
  };
}

/**
 * A ledger's rows as settling sees them: the tracker's (`outbox`, keyed by `id`) or one
 * destination's (`deliveries`, keyed by destination and `event_id`).
 */
export type Ledger = { table: "outbox" } | { table: "deliveries"; destination: string };

/**
 * Record a batch's outcome in one statement (one round trip, one commit); each id must appear
 * in one list only. The statement text is fixed per ledger (ids go over as text parameters),
 * so postgres.js prepares it once per connection.
 */
export async function settleLedger(pg: Sql, ledger: Ledger, s: Settlement): Promise<void> {
  const p = settlementParams(s);
  if (!p) return;
  const table = pg(ledger.table);
  const key = pg(ledger.table === "outbox" ? "id" : "event_id");
  const mine: postgres.PendingQuery<postgres.Row[]> =
    ledger.table === "outbox" ? pg`true` : pg`o.destination = ${ledger.destination}::text`;
  if (p.deliveredOnly) {
    // The usual case, and a plain delete costs a third of the combined statement.
    await pg`delete from ${table} o where ${mine} and o.${key} = any(${p.delivered}::text::uuid[])`;
    return;
  }
  // Every CTE runs even when its list is empty; an empty array matches nothing and costs an
  // index probe.
  await pg`
    with delivered as (
      delete from ${table} o where ${mine} and o.${key} = any(${p.delivered}::text::uuid[])
    ), retried as (
      update ${table} o
         set available_at = now() + make_interval(secs => r.delay_ms / 1000.0),
             leased_until = null, leased_by = null, last_error = r.error
        from jsonb_to_recordset(${p.retries}::text::jsonb) as r(id uuid, delay_ms int, error text)
       where ${mine} and o.${key} = r.id and o.status = 'pending'
    ), dead as (
      update ${table} o
         set status = 'dead', dead_at = now(), leased_until = null, leased_by = null,
             last_error = r.reason
        from jsonb_to_recordset(${p.dead}::text::jsonb) as r(id uuid, reason text)
       where ${mine} and o.${key} = r.id
    ), released as (
      update ${table} o
         set leased_until = null, leased_by = null, attempts = greatest(o.attempts - 1, 0)
       where ${mine} and o.${key} = any(${p.released}::text::uuid[]) and o.status = 'pending'
    )
    select 1`;
}
