import type { Db } from "@berth/db";
import { sql } from "drizzle-orm";

/**
 * Group commit of pull-traffic counts. Every manifest and blob GET adds its bytes to the
 * account's one row of the month; one statement per GET had every concurrent pull of an
 * account wait on that row's lock in turn (issue 15: without the count, unaudited manifest
 * GETs ran 1.8× faster). Instead the counts asked while no statement is running go at the
 * end of the current turn of the event loop, and those asked while one runs go when it
 * returns: one upsert per round trip of the database, summed per row. Each caller still
 * learns whether its bytes were counted.
 *
 * Committed without waiting for its WAL flush (as each statement was before): a crash may
 * lose the counts of a few fetches, never an event.
 */
interface Pending {
  /** Bytes per `account\u0000region\u0000month`. */
  bytes: Map<string, number>;
  waiters: { resolve: () => void; reject: (error: unknown) => void }[];
}

class TrafficCounter {
  private pending: Pending | undefined;
  private running = false;

  constructor(private readonly db: Db) {}

  add(account: string, region: string, month: string, bytes: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending ??= { bytes: new Map(), waiters: [] };
      const key = `${account}\u0000${region}\u0000${month}`;
      this.pending.bytes.set(key, (this.pending.bytes.get(key) ?? 0) + bytes);
      this.pending.waiters.push({ resolve, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.pending) {
      const { bytes, waiters } = this.pending;
      this.pending = undefined;
      try {
        await upsert(this.db, bytes);
        for (const w of waiters) w.resolve();
      } catch (error) {
        for (const w of waiters) w.reject(error);
      }
    }
    this.running = false;
  }
}

/**
 * One statement for all the rows. Sorted, so that two processes updating the same rows lock
 * them in the same order (never a deadlock); one row per key (an upsert may not touch a row
 * twice).
 */
async function upsert(db: Db, bytes: Map<string, number>): Promise<void> {
  const rows = [...bytes.keys()].sort().map((key) => {
    const [a, r, m] = key.split("\u0000");
    return { a, r, m, b: bytes.get(key) };
  });
  await db.execute(sql`
    with relaxed as (select set_config('synchronous_commit', 'off', true))
    insert into pull_traffic (account_id, region, month, bytes)
    select u.a, u.r, u.m, u.b
      from relaxed, jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as u(a text, r text, m text, b bigint)
    on conflict (account_id, region, month)
    do update set bytes = pull_traffic.bytes + excluded.bytes`);
}

const counters = new WeakMap<Db, TrafficCounter>();

/** Add served bytes to a month's pull traffic through the handle's counter (one per pool). */
export function addTraffic(
  db: Db,
  row: { account: string; region: string; month: string },
  bytes: number,
): Promise<void> {
  let counter = counters.get(db);
  if (counter === undefined) {
    counter = new TrafficCounter(db);
    counters.set(db, counter);
  }
  return counter.add(row.account, row.region, row.month, bytes);
}
