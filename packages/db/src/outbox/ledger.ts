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
  /** The event as JSON text, spliced into the request body without a parse/serialise trip. */
  payload: string;
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
 * The columns a claim returns, after the row's id (as `id`): the payload as text plus the few
 * fields a sender needs, so the worker never parses and re-serialises events it only forwards.
 */
export const CLAIMED_COLUMNS = `o.seq, o.region, o.attempts, o.created_at, o.payload::text as payload,
  o.payload->>'message' as message, o.payload->>'severity' as severity,
  o.payload->>'eventTime' as event_time`;

export interface ClaimedRow {
  id: string;
  seq: string | number | bigint;
  region: string;
  attempts: number;
  created_at: Date | string;
  payload: string;
  message: string | null;
  severity: string | null;
  event_time: string | null;
}

/** Claimed rows as delivery rows, in enqueue order. */
export function deliveryRows(rows: readonly ClaimedRow[]): DeliveryRow[] {
  return rows
    .map((r) => ({
      id: r.id,
      seq: Number(r.seq),
      region: r.region,
      attempts: r.attempts,
      // A Date or, on some paths of the driver, its text.
      createdAt: new Date(r.created_at),
      payload: r.payload,
      message: r.message ?? "",
      severity: r.severity ?? "normal",
      eventTime: r.event_time ?? "",
    }))
    .sort((a, b) => a.seq - b.seq);
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
