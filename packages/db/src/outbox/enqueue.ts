import { sql } from "drizzle-orm";
import type { DbOrTx } from "../client";

/** Channel notified once enqueued events have committed (`wakeWorkers`). */
export const OUTBOX_CHANNEL = "berth_outbox";

export interface OutboxEventInput {
  /** The event (its `id` is the row id and the receivers' idempotency key). */
  event: { id: string; action: string };
  accountId: string;
  /** The event's region (of the resource), routed to a tracker region at delivery. */
  region: string;
}

/**
 * Insert events in the caller's transaction, in one statement (given the pool, the statement
 * is its own transaction); once it has committed, the caller wakes the workers (`wakeWorkers`,
 * not in this transaction). Resolves with the id of the transaction (pg_current_xact_id, read
 * in the same statement rather than by one more), which tells a commit in doubt apart
 * afterwards (`transactionStatus`); "" when there is no event.
 *
 * The same statement fans each event out to the registered destinations whose filter it
 * matches (a list absent from the filter matches everything): one row per event and
 * destination in `deliveries`, so every destination's ledger is written with the change or not
 * at all. With no destination registered the join finds nothing and costs an empty scan.
 */
export async function enqueueEvents(tx: DbOrTx, events: OutboxEventInput[]): Promise<string> {
  if (events.length === 0) return "";
  const rows = events.map((e) => ({
    id: e.event.id,
    account_id: e.accountId,
    region: e.region,
    action: e.event.action,
    payload: e.event,
  }));
  const [row] = await tx.execute<{ xid: string }>(sql`
    with ev as (
      select * from rows from (
        jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
          as (id uuid, account_id text, region text, action text, payload jsonb)
      ) with ordinality as r(id, account_id, region, action, payload, n)
    ), outboxed as (
      insert into outbox (id, account_id, region, action, payload)
      select id, account_id, region, action, payload from ev order by n
    ), fanned as (
      insert into deliveries (destination, event_id, account_id, region, action, payload)
      select d.name, ev.id, ev.account_id, ev.region, ev.action, ev.payload
        from ev join delivery_destinations d
          on (not d.filter ? 'actions' or d.filter->'actions' ? ev.action)
         and (not d.filter ? 'outcomes' or d.filter->'outcomes' ? (ev.payload->>'outcome'))
         and (not d.filter ? 'severities' or d.filter->'severities' ? (ev.payload->>'severity'))
         and (not d.filter ? 'accounts' or d.filter->'accounts' ? ev.account_id)
         and (not d.filter ? 'regions' or d.filter->'regions' ? ev.region)
       order by ev.n, d.name
    )
    select pg_current_xact_id()::text as xid`);
  return row!.xid;
}

export async function enqueueEvent(tx: DbOrTx, event: OutboxEventInput): Promise<void> {
  await enqueueEvents(tx, [event]);
}

/**
 * Whether the outbox holds the event: proof that the statement which enqueued it committed,
 * when its answer was lost (an absent event proves nothing: it may have been delivered).
 */
export async function outboxHolds(db: DbOrTx, eventId: string): Promise<boolean> {
  const rows = await db.execute(sql`select 1 from outbox where id = ${eventId}`);
  return rows.length > 0;
}
