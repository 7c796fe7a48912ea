import { sql } from "drizzle-orm";
import { type Db, perDb } from "../client";
import { OUTBOX_CHANNEL } from "./enqueue";

/**
 * Wake the workers once events have committed. Not part of the events' transaction: a
 * transaction that notifies holds Postgres's one notification lock from its commit's start
 * until its WAL flush ends, so every notifying commit in the database would wait for the
 * one before it to reach the disk. Here the notification is its own statement, sent after
 * the commit and committed without waiting for the flush (a lost wake-up costs a worker's
 * poll interval, never an event), and one per process is in flight at a time: the wake-ups
 * asked while it is form the next one.
 */
export function wakeWorkers(db: Db): void {
  wakerOf(db).wake();
}

class Waker {
  private sending = false;
  private again = false;

  constructor(private readonly db: Db) {}

  wake(): void {
    if (this.sending) {
      this.again = true;
      return;
    }
    this.sending = true;
    this.db
      .execute(
        sql`select pg_notify(${OUTBOX_CHANNEL}, ''), set_config('synchronous_commit', 'off', true)`,
      )
      // The workers poll: a wake-up that fails (the database restarting) only delays them.
      .catch(() => {})
      .finally(() => {
        this.sending = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }
}

const wakerOf = perDb((db) => new Waker(db));
