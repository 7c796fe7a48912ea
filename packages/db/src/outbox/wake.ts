import { sql } from "drizzle-orm";
import { type Db, perDb } from "../client";
import { GroupCommit } from "../group-commit";
import { OUTBOX_CHANNEL } from "./enqueue";

/**
 * Wake the workers once events have committed. Not part of the events' transaction: a
 * transaction that notifies holds Postgres's one notification lock from its commit's start
 * until its WAL flush ends, so every notifying commit in the database would wait for the
 * one before it to reach the disk. Here the notification is its own statement, sent after
 * the commit and committed without waiting for the flush (a lost wake-up costs a worker's
 * poll interval, never an event), and one per process is in flight at a time: the wake-ups
 * asked while it is form the next one (`GroupCommit`).
 */
export function wakeWorkers(db: Db): void {
  // The workers poll: a wake-up that fails (the database restarting) only delays them.
  wakerOf(db)
    .add(undefined)
    .catch(() => {});
}

const wakerOf = perDb(
  (db) =>
    new GroupCommit<undefined>(async () => {
      await db.execute(
        sql`select pg_notify(${OUTBOX_CHANNEL}, ''), set_config('synchronous_commit', 'off', true)`,
      );
    }),
);
