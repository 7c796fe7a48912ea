import { and, asc, eq, inArray, notInArray, sql } from "drizzle-orm";
import type { DbOrTx, Sql } from "../client";
import { deliveries, deliveryDestinations } from "../schema/outbox";
import {
  afterCursor,
  CLAIMED_COLUMNS,
  type ClaimCursor,
  type ClaimedRow,
  type DeadEvent,
  type DeliveryRow,
  deadEventOf,
  deliveryRows,
  notifyRedriven,
  redriven,
  type Settlement,
  settleLedger,
} from "./ledger";

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

/**
 * Lease up to `limit` due deliveries of one destination, as claimForDelivery does for the
 * tracker. The rows are picked in a materialised CTE: as a join's inner side the LIMIT ...
 * SKIP LOCKED subquery may be run again per outer row, each run skipping the rows the
 * statement itself has just locked and so leasing far more than `limit`. An ordered
 * destination is a single queue: nothing is claimed past a row that is waiting for a retry or
 * leased by someone else, and claims of it are serialised by an advisory lock, so batches
 * reach it in enqueue (seq) order whatever the number of workers. An unordered one takes
 * `after`, as claimForDelivery does; an ordered one has no batch in flight when it claims, and
 * starts at its head.
 */
export async function claimDestination(
  pg: Sql,
  opts: {
    destination: string;
    ordered: boolean;
    limit: number;
    leaseMs: number;
    workerId: string;
    after?: ClaimCursor;
  },
): Promise<DeliveryRow[]> {
  const picked = opts.ordered
    ? pg`
        lock as (
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
        )`
    : pg`
        c as materialized (
          select event_id from deliveries
           where destination = ${opts.destination}::text and status = 'pending'
             and available_at <= now()
             and (leased_until is null or leased_until < now())
             and ${afterCursor(pg, opts.after)}
           order by available_at, seq
           limit ${opts.limit}::int
           for update skip locked
        )`;
  const rows = await pg<ClaimedRow[]>`
    with ${picked}
    update deliveries o
       set leased_until = now() + make_interval(secs => ${opts.leaseMs / 1000}::float8),
           leased_by = ${opts.workerId}::text, attempts = o.attempts + 1
      from c
     where o.destination = ${opts.destination}::text and o.event_id = c.event_id
    returning o.event_id as id, ${pg.unsafe(CLAIMED_COLUMNS)}`.raw();
  return deliveryRows(rows);
}

/** Record one destination's batch outcome in one statement (see settleDeliveries). */
export async function settleDestination(
  pg: Sql,
  destination: string,
  s: Settlement,
): Promise<void> {
  await settleLedger(pg, { table: "deliveries", destination }, s);
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
    .set(redriven())
    .where(and(...conds))
    .returning({ id: deliveries.eventId });
  return notifyRedriven(db, rows);
}

export interface DeadDelivery extends DeadEvent {
  destination: string;
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
  return rows.map((r) => ({ destination: r.destination, ...deadEventOf(r.eventId, r) }));
}
