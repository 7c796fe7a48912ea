import { sql } from "drizzle-orm";
import type { DbOrTx } from "../client";
import { outbox } from "../schema/outbox";

/** Channel notified (at commit) whenever events are enqueued. */
export const OUTBOX_CHANNEL = "berth_outbox";

export interface OutboxEventInput {
  /** The event (its `id` is the row id and the receivers' idempotency key). */
  event: { id: string; action: string };
  accountId: string;
  /** The event's region (of the resource), routed to a tracker region at delivery. */
  region: string;
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
