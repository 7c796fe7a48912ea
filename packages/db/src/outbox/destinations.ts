import { and, asc, eq, inArray, notInArray, sql } from "drizzle-orm";
import type { DbOrTx, Sql } from "../client";
import { deliveries, deliveryDestinations } from "../schema/outbox";
import type { DeliveryRow, Settlement } from "./delivery";
import { OUTBOX_CHANNEL } from "./enqueue";

/** A destination's filter: each list present must hold the event's value. */
export interface DestinationFilter {
  actions?: string[];
  outcomes?: string[];
  severities?: string[];
  accounts?: string[];
  regions?: string[];
}

export interface DestinationRegistration {
  name: string;
  filter: DestinationFilter;
  ordered: boolean;
}

/**
 * Make the registered destinations exactly `list` (the worker's file): events enqueued from
 * the commit on are fanned out to them. A destination no longer listed gets no new events; its
 * undelivered rows stay (and show in the status) until it is listed again or redriven away.
 */
export async function registerDestinations(
  db: DbOrTx,
  list: DestinationRegistration[],
): Promise<void> {
  await db.transaction(async (tx) => {
    const names = list.map((d) => d.name);
    await tx
      .delete(deliveryDestinations)
      .where(names.length > 0 ? notInArray(deliveryDestinations.name, names) : undefined);
    for (const d of list) {
      await tx
        .insert(deliveryDestinations)
        .values({ name: d.name, filter: d.filter, ordered: d.ordered })
        .onConflictDoUpdate({
          target: deliveryDestinations.name,
          set: { filter: d.filter, ordered: d.ordered, updatedAt: sql`now()` },
        });
    }
  });
}

type ClaimedRow = {
  event_id: string;
  seq: string | number | bigint;
  region: string;
  attempts: number;
  created_at: Date;
  payload: string;
  message: string | null;
  severity: string | null;
  event_time: string | null;
};

/**
 * Lease up to `limit` due deliveries of one destination, as claimForDelivery does for the
 * tracker. The rows are picked in a materialised CTE: as a join's inner side the LIMIT ...
 * SKIP LOCKED subquery may be run again per outer row, each run skipping the rows the
 * statement itself has just locked and so leasing far more than `limit`. An ordered destination is a single queue: nothing is claimed past a row that is
 * waiting for a retry or leased by someone else, and claims of it are serialised by an
 * advisory lock, so batches reach it in enqueue (seq) order whatever the number of workers.
 */
export async function claimDestination(
  pg: Sql,
  opts: { destination: string; ordered: boolean; limit: number; leaseMs: number; workerId: string },
): Promise<DeliveryRow[]> {
  const lease = opts.leaseMs / 1000;
  const rows = opts.ordered
    ? await pg<ClaimedRow[]>`
        with lock as (
          select pg_try_advisory_xact_lock(hashtext('berth-destination:' || ${opts.destination}::text)) as ok
        ), head as (
          select coalesce(min(seq), 9223372036854775807) as blocked_at from deliveries
           where destination = ${opts.destination}::text and status = 'pending'
             and (available_at > now() or leased_until >= now())
        ), c as materialized (
          select event_id from deliveries
           where destination = ${opts.destination}::text and status = 'pending'
             and (select ok from lock)
             and seq < (select blocked_at from head)
           order by seq
           limit ${opts.limit}::int
           for update skip locked
        )
        update deliveries o
           set leased_until = now() + make_interval(secs => ${lease}::float8),
               leased_by = ${opts.workerId}::text, attempts = o.attempts + 1
          from c
         where o.destination = ${opts.destination}::text and o.event_id = c.event_id
        returning o.event_id, o.seq, o.region, o.attempts, o.created_at, o.payload::text as payload,
                  o.payload->>'message' as message, o.payload->>'severity' as severity,
                  o.payload->>'eventTime' as event_time`
    : await pg<ClaimedRow[]>`
        with c as materialized (
          select event_id from deliveries
           where destination = ${opts.destination}::text and status = 'pending'
             and available_at <= now()
             and (leased_until is null or leased_until < now())
           order by available_at, seq
           limit ${opts.limit}::int
           for update skip locked
        )
        update deliveries o
           set leased_until = now() + make_interval(secs => ${lease}::float8),
               leased_by = ${opts.workerId}::text, attempts = o.attempts + 1
          from c
         where o.destination = ${opts.destination}::text and o.event_id = c.event_id
        returning o.event_id, o.seq, o.region, o.attempts, o.created_at, o.payload::text as payload,
                  o.payload->>'message' as message, o.payload->>'severity' as severity,
                  o.payload->>'eventTime' as event_time`;
  return rows
    .map((r) => ({
      id: r.event_id,
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

const uuidArray = (ids: string[]) => `{${ids.join(",")}}`;

/** Record one destination's batch outcome in one statement (see settleDeliveries). */
export async function settleDestination(
  pg: Sql,
  destination: string,
  s: Settlement,
): Promise<void> {
  const delivered = s.delivered ?? [];
  const retries = (s.retries ?? []).map((r) => ({
    id: r.id,
    delay_ms: Math.max(0, Math.round(r.delayMs)),
    error: r.error.slice(0, 2000),
  }));
  const dead = (s.dead ?? []).map((d) => ({ id: d.id, reason: d.reason.slice(0, 2000) }));
  const released = s.released ?? [];
  if (delivered.length + retries.length + dead.length + released.length === 0) return;
  await pg`
    with delivered as (
      delete from deliveries
       where destination = ${destination}::text and event_id = any(${uuidArray(delivered)}::text::uuid[])
    ), retried as (
      update deliveries o
         set available_at = now() + make_interval(secs => r.delay_ms / 1000.0),
             leased_until = null, leased_by = null, last_error = r.error
        from jsonb_to_recordset(${JSON.stringify(retries)}::text::jsonb)
          as r(id uuid, delay_ms int, error text)
       where o.destination = ${destination}::text and o.event_id = r.id and o.status = 'pending'
    ), dead as (
      update deliveries o
         set status = 'dead', dead_at = now(), leased_until = null, leased_by = null,
             last_error = r.reason
        from jsonb_to_recordset(${JSON.stringify(dead)}::text::jsonb) as r(id uuid, reason text)
       where o.destination = ${destination}::text and o.event_id = r.id
    ), released as (
      update deliveries
         set leased_until = null, leased_by = null, attempts = greatest(attempts - 1, 0)
       where destination = ${destination}::text
         and event_id = any(${uuidArray(released)}::text::uuid[]) and status = 'pending'
    )
    select 1`;
}

export interface DestinationStats {
  destination: string;
  pending: number;
  dead: number;
  /** Age in ms of the destination's oldest pending event (0 when none): its lag. */
  oldestPendingAgeMs: number;
}

/** Backlog, dead letters and lag of every destination beside the tracker (optionally one account's). */
export async function destinationStats(
  db: DbOrTx,
  opts: { accountId?: string } = {},
): Promise<DestinationStats[]> {
  const scope = opts.accountId ? sql`and dl.account_id = ${opts.accountId}` : sql``;
  const rows = await db.execute<{
    destination: string;
    pending: string;
    dead: string;
    age_ms: string | null;
  }>(sql`
    select d.destination,
           count(dl.event_id) filter (where dl.status = 'pending') as pending,
           count(dl.event_id) filter (where dl.status = 'dead') as dead,
           extract(epoch from (now() - min(dl.created_at) filter (where dl.status = 'pending'))) * 1000 as age_ms
      from (select name as destination from delivery_destinations
            union select distinct destination from deliveries) d
      left join deliveries dl on dl.destination = d.destination ${scope}
     group by d.destination
     order by d.destination`);
  return rows.map((r) => ({
    destination: r.destination,
    pending: Number(r.pending),
    dead: Number(r.dead),
    oldestPendingAgeMs: Math.max(0, Math.round(Number(r.age_ms ?? 0))),
  }));
}

/** A destination's dead events back to pending with a fresh attempt budget; returns how many. */
export async function redriveDestination(
  db: DbOrTx,
  opts: { destination: string; ids?: string[]; accountId?: string },
): Promise<number> {
  const conds = [eq(deliveries.destination, opts.destination), eq(deliveries.status, "dead")];
  if (opts.ids) conds.push(inArray(deliveries.eventId, opts.ids));
  if (opts.accountId) conds.push(eq(deliveries.accountId, opts.accountId));
  const rows = await db
    .update(deliveries)
    .set({
      status: "pending",
      attempts: 0,
      availableAt: sql`now()`,
      deadAt: null,
      leasedUntil: null,
      leasedBy: null,
    })
    .where(and(...conds))
    .returning({ id: deliveries.eventId });
  if (rows.length > 0) await db.execute(sql`select pg_notify(${OUTBOX_CHANNEL}, '')`);
  return rows.length;
}

export interface DeadDelivery {
  destination: string;
  id: string;
  accountId: string;
  region: string;
  action: string;
  attempts: number;
  lastError: string | null;
  deadAt: Date | null;
  payload: unknown;
}

export async function listDeadDeliveries(
  db: DbOrTx,
  opts: { destination?: string; accountId?: string; limit?: number } = {},
): Promise<DeadDelivery[]> {
  const conds = [eq(deliveries.status, "dead")];
  if (opts.destination) conds.push(eq(deliveries.destination, opts.destination));
  if (opts.accountId) conds.push(eq(deliveries.accountId, opts.accountId));
  const rows = await db
    .select()
    .from(deliveries)
    .where(and(...conds))
    .orderBy(asc(deliveries.deadAt))
    .limit(opts.limit ?? 100);
  return rows.map((r) => ({
    destination: r.destination,
    id: r.eventId,
    accountId: r.accountId,
    region: r.region,
    action: r.action,
    attempts: r.attempts,
    lastError: r.lastError,
    deadAt: r.deadAt,
    payload: r.payload,
  }));
}
