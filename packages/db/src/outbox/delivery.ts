import type { Sql } from "../client";
import {
  afterCursor,
  CLAIMED_COLUMNS,
  type ClaimCursor,
  type ClaimedRow,
  type DeliveryRow,
  deliveryRows,
  type Settlement,
  settleLedger,
} from "./ledger";

export type { ClaimCursor, DeliveryRow, Settlement } from "./ledger";
export { cursorAfter } from "./ledger";

/**
 * Lease up to `limit` due events to `workerId` for `leaseMs`. SKIP LOCKED lets several
 * workers claim concurrently without ever receiving the same row; an expired lease (a
 * crashed worker) makes the row claimable again. Attempts count claims, so an event that
 * crashes its worker every time still reaches the dead letter eventually.
 *
 * `after` starts the claim past the batches this process has in flight (see ClaimCursor);
 * whatever lies before it (a late commit, an expired lease) is found by the next claim from
 * the head, which the worker makes whenever a claim comes back short, and at least once a
 * second.
 *
 * The rows are picked by a sub-select that runs once (an InitPlan: `any(array(...))`), never as
 * a join's side: planned as the inner side of a nested loop over the outbox, which Postgres
 * does when its statistics say the outbox is (nearly) empty, as they do at a steady low rate,
 * the LIMIT ... SKIP LOCKED sub-select ran again for every outbox row, each run skipping the
 * rows the statement had just locked: a claim at 1,000 events/s took up to seconds and leased
 * more than `limit` rows (seen with auto_explain: loops=636, 177,165 rows joined and dropped).
 *
 * It takes the postgres.js client rather than drizzle: its tagged queries are prepared once
 * per connection, where at a thousand small batches a second parsing and planning each
 * statement again would cost more than running it.
 */
export async function claimForDelivery(
  pg: Sql,
  opts: { limit: number; leaseMs: number; workerId: string; after?: ClaimCursor },
): Promise<DeliveryRow[]> {
  const rows = await pg<ClaimedRow[]>`
    update outbox o
       set leased_until = now() + make_interval(secs => ${opts.leaseMs / 1000}::float8),
           leased_by = ${opts.workerId}::text,
           attempts = o.attempts + 1
     where o.id = any(array(
             select id from outbox
              where status = 'pending'
                and available_at <= now()
                and (leased_until is null or leased_until < now())
                and ${afterCursor(pg, opts.after)}
              order by available_at, seq
              limit ${opts.limit}::int
              for update skip locked))
    returning o.id, ${pg.unsafe(CLAIMED_COLUMNS)}`.raw();
  return deliveryRows(rows);
}

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
  await settleLedger(pg, { table: "outbox" }, s);
}
