import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { DbOrTx, Sql } from "./client";
import { outbox } from "./schema/outbox";

/** Channel notified (at commit) whenever events are enqueued. */
export const OUTBOX_CHANNEL = "berth_outbox";

export interface OutboxEventInput {
  /** The event (its `id` is the row id and the receivers' idempotency key). */
  event: { id: string; action: string };
  accountId: string;
  /** The event's region (of the resource), routed to a tracker region at delivery. */
  region: string;
}

export interface ClaimedEvent {
  id: string;
  seq: number;
  accountId: string;
  region: string;
  action: string;
  payload: unknown;
  /** Attempts including this one. */
  attempts: number;
  createdAt: Date;
}

/**
 * Insert events in the caller's transaction, in one statement, and notify listeners.
 * NOTIFY inside a transaction is delivered only if it commits.
 */
export async function enqueueEvents(tx: DbOrTx, events: OutboxEventInput[]): Promise<void> {
  if (events.length === 0) return;
  await tx.insert(outbox).values(
    events.map((e) => ({
      id: e.event.id,
      accountId: e.accountId,
      region: e.region,
      action: e.event.action,
      payload: e.event,
    })),
  );
  await tx.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, '')`);
}

export async function enqueueEvent(tx: DbOrTx, event: OutboxEventInput): Promise<void> {
  await enqueueEvents(tx, [event]);
}

/**
 * Lease up to `limit` due events to `workerId` for `leaseMs`. SKIP LOCKED lets several
 * workers claim concurrently without ever receiving the same row; an expired lease (a
 * crashed worker) makes the row claimable again. Attempts count claims, so an event that
 * crashes its worker every time still reaches the dead letter eventually.
 */
export async function claimBatch(
  db: DbOrTx,
  opts: { limit: number; leaseMs: number; workerId: string },
): Promise<ClaimedEvent[]> {
  const rows = await db.execute<{
    id: string;
    seq: string | number;
    account_id: string;
    region: string;
    action: string;
    payload: unknown;
    attempts: number;
    created_at: Date | string;
  }>(sql`
    update outbox o
       set leased_until = now() + make_interval(secs => ${opts.leaseMs / 1000}),
           leased_by = ${opts.workerId},
           attempts = o.attempts + 1
     where o.id in (
       select id from outbox
        where status = 'pending'
          and available_at <= now()
          and (leased_until is null or leased_until < now())
        order by available_at, seq
        limit ${opts.limit}
        for update skip locked)
    returning o.id, o.seq, o.account_id, o.region, o.action, o.payload, o.attempts, o.created_at`);
  return rows
    .map((r) => ({
      id: r.id,
      seq: Number(r.seq),
      accountId: r.account_id,
      region: r.region,
      action: r.action,
      payload: r.payload,
      attempts: r.attempts,
      createdAt: new Date(r.created_at),
    }))
    .sort((a, b) => a.seq - b.seq);
}

/** Delivered rows are deleted: the outbox holds only the backlog and stays small. */
export async function markDelivered(db: DbOrTx, ids: string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const rows = await db.delete(outbox).where(inArray(outbox.id, ids)).returning({ id: outbox.id });
  return rows.length;
}

/** Release leases and make events due again after their own delay (backoff with jitter). */
export async function scheduleRetry(
  db: DbOrTx,
  retries: { id: string; delayMs: number; error: string }[],
): Promise<void> {
  if (retries.length === 0) return;
  const rows = retries.map((r) => ({
    id: r.id,
    delay_ms: Math.max(0, Math.round(r.delayMs)),
    error: r.error.slice(0, 2000),
  }));
  // One statement for the whole batch; a JSON recordset carries per-row delays.
  await db.execute(sql`
    update outbox o
       set available_at = now() + make_interval(secs => r.delay_ms / 1000.0),
           leased_until = null, leased_by = null, last_error = r.error
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(id uuid, delay_ms int, error text)
     where o.id = r.id and o.status = 'pending'`);
}

/** Park events in the dead-letter state with their reason. */
export async function deadLetter(
  db: DbOrTx,
  dead: { id: string; reason: string }[],
): Promise<void> {
  if (dead.length === 0) return;
  const rows = dead.map((d) => ({ id: d.id, reason: d.reason.slice(0, 2000) }));
  await db.execute(sql`
    update outbox o
       set status = 'dead', dead_at = now(), leased_until = null, leased_by = null,
           last_error = r.reason
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as r(id uuid, reason text)
     where o.id = r.id`);
}

/** Give leased events back at once (graceful shutdown), without counting the attempt. */
export async function releaseLeases(db: DbOrTx, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(outbox)
    .set({ leasedUntil: null, leasedBy: null, attempts: sql`greatest(${outbox.attempts} - 1, 0)` })
    .where(and(inArray(outbox.id, ids), eq(outbox.status, "pending")));
}

/**
 * Send dead events again: back to pending with a fresh attempt budget. Scoped by ids
 * and/or account; with neither, every dead event is redriven.
 */
export async function redrive(
  db: DbOrTx,
  opts: { ids?: string[]; accountId?: string } = {},
): Promise<number> {
  const conds = [eq(outbox.status, "dead")];
  if (opts.ids) conds.push(inArray(outbox.id, opts.ids));
  if (opts.accountId) conds.push(eq(outbox.accountId, opts.accountId));
  const rows = await db
    .update(outbox)
    .set({
      status: "pending",
      attempts: 0,
      availableAt: sql`now()`,
      deadAt: null,
      leasedUntil: null,
      leasedBy: null,
    })
    .where(and(...conds))
    .returning({ id: outbox.id });
  if (rows.length > 0) await db.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, '')`);
  return rows.length;
}

export interface OutboxStats {
  pending: number;
  dead: number;
  /** Age in ms of the oldest pending event (0 when none): the delivery lag. */
  oldestPendingAgeMs: number;
}

export async function outboxStats(
  db: DbOrTx,
  opts: { accountId?: string } = {},
): Promise<OutboxStats> {
  const scope = opts.accountId ? sql`where account_id = ${opts.accountId}` : sql``;
  const rows = await db.execute<{ pending: string; dead: string; age_ms: string | null }>(sql`
    select count(*) filter (where status = 'pending') as pending,
           count(*) filter (where status = 'dead') as dead,
           extract(epoch from (now() - min(created_at) filter (where status = 'pending'))) * 1000 as age_ms
      from outbox ${scope}`);
  const r = rows[0];
  return {
    pending: Number(r?.pending ?? 0),
    dead: Number(r?.dead ?? 0),
    oldestPendingAgeMs: Math.max(0, Math.round(Number(r?.age_ms ?? 0))),
  };
}

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

export async function listDead(
  db: DbOrTx,
  opts: { accountId?: string; limit?: number } = {},
): Promise<DeadEvent[]> {
  const conds = [eq(outbox.status, "dead")];
  if (opts.accountId) conds.push(eq(outbox.accountId, opts.accountId));
  const rows = await db
    .select()
    .from(outbox)
    .where(and(...conds))
    .orderBy(asc(outbox.deadAt))
    .limit(opts.limit ?? 100);
  return rows.map((r) => ({
    id: r.id,
    accountId: r.accountId,
    region: r.region,
    action: r.action,
    attempts: r.attempts,
    lastError: r.lastError,
    deadAt: r.deadAt,
    payload: r.payload,
  }));
}

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

/**
 * `claimBatch` for the delivery hot path: same lease semantics, but returns the payload as
 * text plus the few fields a sender needs, so the worker never parses and re-serialises
 * events it only forwards. It takes the postgres.js client rather than drizzle: its tagged
 * queries are prepared once per connection, where at a thousand small batches a second
 * parsing and planning each statement again would cost more than running it.
 */
export async function claimForDelivery(
  pg: Sql,
  opts: { limit: number; leaseMs: number; workerId: string },
): Promise<DeliveryRow[]> {
  const rows = await pg<
    {
      id: string;
      seq: string | number | bigint;
      region: string;
      attempts: number;
      created_at: Date;
      payload: string;
      message: string | null;
      severity: string | null;
      event_time: string | null;
    }[]
  >`
    update outbox o
       set leased_until = now() + make_interval(secs => ${opts.leaseMs / 1000}::float8),
           leased_by = ${opts.workerId}::text,
           attempts = o.attempts + 1
      from (select id from outbox
             where status = 'pending'
               and available_at <= now()
               and (leased_until is null or leased_until < now())
             order by available_at, seq
             limit ${opts.limit}::int
             for update skip locked) c
     where o.id = c.id
    returning o.id, o.seq, o.region, o.attempts, o.created_at, o.payload::text as payload,
              o.payload->>'message' as message, o.payload->>'severity' as severity,
              o.payload->>'eventTime' as event_time`;
  return rows
    .map((r) => ({
      id: r.id,
      seq: Number(r.seq),
      region: r.region,
      attempts: r.attempts,
      createdAt: new Date(r.created_at),
      payload: r.payload,
      message: r.message ?? "",
      severity: r.severity ?? "normal",
      eventTime: r.event_time ?? "",
    }))
    .sort((a, b) => a.seq - b.seq);
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

// UUIDs (from the database itself) need no quoting inside an array literal.
const uuidArray = (ids: string[]) => `{${ids.join(",")}}`;

/**
 * Record the outcome of a delivered batch in one statement (one round trip, one commit):
 * the worker settles every claimed batch this way. Each id must appear in one list only.
 *
 * Why delivered rows are deleted rather than partitioned away: the outbox holds only the
 * backlog, and a row lives for as long as its delivery takes. Deleting it in the statement
 * that settles its batch costs one primary-key probe, and its space comes back through HOT
 * pruning and vacuum (tuned per table in migration 0001), so the table stays the size of the
 * backlog plus the dead rows between two vacuums, and claims walk the small partial pending
 * index rather than the heap. Partitions pay off when rows must be kept for a while; here
 * they would add routing on every insert, a primary key that must include the partition key,
 * a job to rotate them, and a partition could be dropped only once every row in it had been
 * delivered: one event being retried or parked in the dead letter would pin it.
 */
export async function settleDeliveries(pg: Sql, s: Settlement): Promise<void> {
  const delivered = s.delivered ?? [];
  const retries = (s.retries ?? []).map((r) => ({
    id: r.id,
    delay_ms: Math.max(0, Math.round(r.delayMs)),
    error: r.error.slice(0, 2000),
  }));
  const dead = (s.dead ?? []).map((d) => ({ id: d.id, reason: d.reason.slice(0, 2000) }));
  const released = s.released ?? [];
  if (delivered.length + retries.length + dead.length + released.length === 0) return;
  if (retries.length + dead.length + released.length === 0) {
    // The usual case, and a plain delete costs a third of the combined statement.
    await pg`delete from outbox where id = any(${uuidArray(delivered)}::text::uuid[])`;
    return;
  }
  // Deleting keeps the table at the size of the backlog (see markDelivered). Every CTE runs
  // even when its list is empty; an empty array matches nothing and costs an index probe.
  // Every parameter goes over as text and is cast in SQL, so the statement text (and its
  // prepared plan) is the same whatever the lists hold.
  await pg`
    with delivered as (
      delete from outbox where id = any(${uuidArray(delivered)}::text::uuid[])
    ), retried as (
      update outbox o
         set available_at = now() + make_interval(secs => r.delay_ms / 1000.0),
             leased_until = null, leased_by = null, last_error = r.error
        from jsonb_to_recordset(${JSON.stringify(retries)}::text::jsonb)
          as r(id uuid, delay_ms int, error text)
       where o.id = r.id and o.status = 'pending'
    ), dead as (
      update outbox o
         set status = 'dead', dead_at = now(), leased_until = null, leased_by = null,
             last_error = r.reason
        from jsonb_to_recordset(${JSON.stringify(dead)}::text::jsonb) as r(id uuid, reason text)
       where o.id = r.id
    ), released as (
      update outbox
         set leased_until = null, leased_by = null, attempts = greatest(attempts - 1, 0)
       where id = any(${uuidArray(released)}::text::uuid[]) and status = 'pending'
    )
    select 1`;
}
