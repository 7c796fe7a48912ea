import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import postgres from "postgres";
import * as schema from "./schema/index";

export type Schema = typeof schema;
export type Db = PostgresJsDatabase<Schema>;
/** A transaction handle; use-cases accept either a Db or a Tx. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
export type DbOrTx = Db | Tx;
export type Sql = postgres.Sql;

export function createDb(url: string, opts: { max?: number } = {}): { db: Db; sql: Sql } {
  const sql = postgres(url, {
    max: opts.max ?? 10,
    onnotice: () => {},
    // While the database is down, requests wait for a connection's reconnect delay before
    // they fail. The driver's default grows to 20 s a try: callers would hang that long
    // before their 503, and keep waiting that long after the database is back. Up to a
    // second instead (connection attempts to a stopped server are cheap refusals).
    backoff: reconnectDelaySeconds,
    connect_timeout: 10,
    // bigint sums (storage usage) fit in a JS number well past any realistic quota.
    types: { bigint: postgres.BigInt },
  });
  return { db: drizzle(preparing(sql), { schema }), sql };
}

type Unsafe = Sql["unsafe"];

/**
 * The client drizzle is given: its statements are prepared. Drizzle sends every query it
 * builds unprepared (`prepare: false` unless the query was `.prepare()`d), and postgres.js
 * then asks the server to describe each statement with parameters before binding it: two
 * round trips per query, and a query that waits for its description cannot be pipelined
 * with the next. Prepared, a statement is described once per connection and then only
 * bound and executed: one round trip, pipelined with the queries asked in the same tick.
 * Transactions and savepoints hand their own client to the callback: wrapped the same way.
 */
function preparing(sql: Sql): Sql {
  return new Proxy(sql, {
    get(target, prop, receiver) {
      if (prop === "unsafe") {
        return ((query, params, options) =>
          target.unsafe(query, params, { ...options, prepare: true })) as Unsafe;
      }
      if (prop === "begin" || prop === "savepoint") {
        const open = Reflect.get(target, prop, receiver) as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          const fn = args.pop() as (tx: Sql) => unknown;
          return open.call(target, ...args, (tx: Sql) => fn(preparing(tx)));
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

/** Seconds before reconnect attempt `n`: 50 ms doubling up to 1 s, with jitter. */
export function reconnectDelaySeconds(n: number): number {
  return Math.min(0.05 * 2 ** n, 1) * (0.5 + Math.random() / 2);
}

/**
 * One value per database handle (a pool, so one per process), built on first use.
 *
 * A query of a hot path: drizzle turns its query objects into SQL text on every call, a
 * visible share of a request's CPU; a query prepared once keeps the text and only fills in
 * its placeholders (`sql.placeholder("name")`). For queries on the pool (`Db`): a
 * transaction is a new handle each time and gains nothing from this. Also a batcher that
 * groups the statements of concurrent requests (the audited reads' events, the traffic
 * counts, the workers' wake-ups): one per pool.
 */
export function perDb<T>(build: (db: Db) => T): (db: Db) => T {
  const built = new WeakMap<Db, T>();
  return (db) => {
    let value = built.get(db);
    if (value === undefined) {
      value = build(db);
      built.set(db, value);
    }
    return value;
  };
}
