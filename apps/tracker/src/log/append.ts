import type { AtEvent } from "@berth/core";
import { appendLeaves, canonicalLeafHash, type Hash, nodesToStore, tileWrites } from "@berth/tlog";
import type postgres from "postgres";
import { canonicalEvent } from "./event-canonical";
import { decodeFrontier, encodeFrontier } from "./frontier";

export interface LogAppend {
  /** Event id → its index in its account domain's log. */
  indexes: Map<string, number>;
  /** Ids already stored before this batch (never entered twice). */
  duplicates: Set<string>;
  /**
   * The new stored nodes, one write per tile: `hashes` go at slot `offset`, which must be the
   * tile's length so far. Written with the frontiers in the same transaction as the events.
   */
  tiles: { account: string[]; level: number[]; idx: number[]; offset: number[]; hashes: string[] };
  /** Per grown log: its size and frontier before (which the write checks) and after. */
  logs: {
    account: string[];
    was: number[];
    wasFrontier: string[];
    size: number[];
    frontier: string[];
  };
}

/** A log as this process last wrote it. */
interface LogState {
  size: number;
  frontier: Buffer;
}

/** How many logs' states a process remembers (each at most ~1.7 kB: 53 hashes). */
const KNOWN_LOGS = 4096;

/**
 * How long a log that another process grew under a remembered state is placed under the lock
 * only. Processes taking turns on one log would otherwise each refuse about every other
 * one-statement write, paying its statement (bodies parsed, rows inserted, rolled back) on top
 * of the locked transaction; this way a process pays one refusal per log in this window.
 */
export const CONTENDED_MS = 30_000;

/**
 * The states of the logs this process wrote last, per region and account. With them an
 * ingestion is placed without reading (and locking) the logs first, and written in one
 * statement that grows each log only from the size it was placed at: a log that another
 * writer grew meanwhile fails that statement, and the events are placed again under the lock
 * (store.ts). Only a committed write records a state; a failed or unknown outcome forgets it.
 */
export class KnownLogs {
  private readonly states = new Map<string, LogState>();
  /** Logs another process grew, with when they may be remembered again (ms). */
  private readonly contended = new Map<string, number>();
  private refusals = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** The states of these accounts' logs, or undefined if one is not known. */
  get(region: string, accounts: readonly string[]): Map<string, LogState> | undefined {
    const out = new Map<string, LogState>();
    for (const account of accounts) {
      const state = this.states.get(`${region}\0${account}`);
      if (!state) return undefined;
      out.set(account, state);
    }
    return out;
  }

  /** The logs an append committed, except those another process is growing. */
  record(region: string, logs: LogAppend["logs"]): void {
    const now = this.now();
    logs.account.forEach((account, i) => {
      const key = `${region}\0${account}`;
      const until = this.contended.get(key);
      if (until !== undefined) {
        if (until > now) return;
        this.contended.delete(key);
      }
      // Re-inserted so that the Map's order is least recently written first.
      this.states.delete(key);
      this.states.set(key, {
        size: logs.size[i]!,
        frontier: Buffer.from(logs.frontier[i]!, "hex"),
      });
    });
    keepNewest(this.states);
  }

  forget(region: string, accounts: Iterable<string>): void {
    for (const account of accounts) this.states.delete(`${region}\0${account}`);
  }

  /** One-statement writes refused (a log moved, or an event was stored): a metric. */
  get refusedWrites(): number {
    return this.refusals;
  }

  /** A one-statement write of these logs was refused: their states are stale or unsure. */
  refused(region: string, accounts: Iterable<string>): void {
    this.refusals++;
    this.forget(region, accounts);
  }

  /**
   * After a refused write (whose `refused` forgot the logs' states), the locked placement found
   * the logs as `found`: those that had moved since `remembered` are being grown by another
   * process, and are not remembered for CONTENDED_MS. A refusal for a stored event alone (a redelivery) leaves its logs where they
   * were, and them rememberable.
   */
  contend(region: string, remembered: LogAppend["logs"], found: LogAppend["logs"]): void {
    const until = this.now() + CONTENDED_MS;
    remembered.account.forEach((account, i) => {
      // Not grown by the locked placement: its events were all stored already (redelivered).
      const j = found.account.indexOf(account);
      if (j < 0 || found.was[j] === remembered.was[i]) return;
      const key = `${region}\0${account}`;
      this.contended.delete(key);
      this.contended.set(key, until);
    });
    keepNewest(this.contended);
  }
}

/** Drops a Map's oldest entries (its first, in insertion order) beyond KNOWN_LOGS. */
function keepNewest(map: Map<string, unknown>): void {
  for (const key of map.keys()) {
    if (map.size <= KNOWN_LOGS) break;
    map.delete(key);
  }
}

/** The leaf hashes of a batch's events, in its order: the log's main cost in CPU. */
function leavesOf(events: readonly { stored: unknown }[]): Hash[] {
  return events.map((e) => canonicalLeafHash(canonicalEvent(e.stored)));
}

/**
 * The account of each event: the expression that fills the row's account_id column (store.ts),
 * so an event is always in the log of the domain it is filed under (the CRN was validated).
 */
function accountsOf(events: readonly { event: AtEvent }[]): string[] {
  return events.map((e) => crnAccount(e.event.target.id));
}

/**
 * Places a batch's events in their logs as `known` remembers them, assuming none is stored
 * yet: undefined when a log is not known. The write fails if a log has moved or an event was
 * stored (store.ts), and the batch is then placed by `placeInLogs`, given these `leaves` so
 * that they are not computed twice.
 */
export function placeInKnownLogs(
  known: KnownLogs,
  region: string,
  events: readonly { event: AtEvent; stored: unknown }[],
): { placed: LogAppend; leaves: Hash[] } | undefined {
  const accountOf = accountsOf(events);
  const states = known.get(region, [...new Set(accountOf)].sort());
  if (!states) return undefined;
  const leaves = leavesOf(events);
  return { placed: appendTo(states, events, accountOf, leaves, new Set()), leaves };
}

/** SQL's substr(split_part(crn, ':', 7), 3): the account of "a/<account>", the 7th segment. */
export function crnAccount(crn: string): string {
  return (crn.split(":", 7)[6] ?? "").slice(2);
}

/**
 * Places a batch's new events in their account domains' logs, in batch order. Locks each
 * domain's log row first (in account order, so two processes never deadlock), then reads which
 * ids are already stored: a duplicate committed by another process while this one waited for
 * the lock is seen, because the check is a later statement than the lock.
 */
export async function placeInLogs(
  tx: postgres.TransactionSql,
  region: string,
  events: readonly { event: AtEvent; stored: unknown }[],
  computedLeaves?: readonly Hash[],
): Promise<LogAppend> {
  const accountOf = accountsOf(events);
  const accounts = [...new Set(accountOf)].sort();
  // Sent together: postgres.js pipelines them on the transaction's connection, so the check
  // costs no round trip of its own while the locks are held, and Postgres still runs each
  // statement after the one before has finished, with a snapshot of its own. A log row is
  // made the first time (a concurrent maker's commit is waited for), then locked with FOR
  // UPDATE, which writes no new row version (the upsert that locked before wrote one per log).
  const placed = Promise.all([
    tx`
      insert into tracker.logs (account_id, region, frontier)
      select a, ${region}, '\\x'::bytea from unnest(${accounts}::text[]) as a order by a
      on conflict (account_id, region) do nothing`,
    tx<{ account_id: string; size: number | bigint; frontier: Buffer }[]>`
      select account_id, size, frontier from tracker.logs
       where region = ${region} and account_id = any(${accounts}::text[])
       order by account_id for update`,
    tx<{ id: string }[]>`
      select id::text from tracker.events where id = any(${events.map((e) => e.event.id)}::uuid[])`,
  ]);
  // Awaited below; this only keeps a failure while the leaves are computed from going unhandled.
  placed.catch(() => {});
  // The leaves (canonical JSON and a hash: the log's main cost in CPU) are computed while
  // Postgres takes the locks, not while this transaction holds them.
  const leaves = computedLeaves ?? leavesOf(events);
  const [, rows, found] = await placed;
  const states = new Map(
    rows.map((r) => [r.account_id, { size: Number(r.size), frontier: r.frontier }]),
  );
  return appendTo(states, events, accountOf, leaves, new Set(found.map((r) => r.id)));
}

/** Appends the leaves of the events not in `duplicates` to their logs' states. */
function appendTo(
  states: Map<string, LogState>,
  events: readonly { event: AtEvent }[],
  accountOf: readonly string[],
  leaves: readonly Hash[],
  duplicates: Set<string>,
): LogAppend {
  const byAccount = new Map<string, { event: AtEvent; leaf: Hash }[]>();
  events.forEach((e, i) => {
    if (duplicates.has(e.event.id)) return;
    const account = accountOf[i] as string;
    const added = { event: e.event, leaf: leaves[i] as Hash };
    const list = byAccount.get(account);
    if (list) list.push(added);
    else byAccount.set(account, [added]);
  });
  const out: LogAppend = {
    indexes: new Map(),
    duplicates,
    tiles: { account: [], level: [], idx: [], offset: [], hashes: [] },
    logs: { account: [], was: [], wasFrontier: [], size: [], frontier: [] },
  };
  for (const [account, state] of states) {
    const added = byAccount.get(account);
    if (!added) continue;
    const size = state.size;
    const appended = appendLeaves(
      decodeFrontier(size, state.frontier),
      size,
      added.map((a) => a.leaf),
    );
    added.forEach((a, i) => {
      out.indexes.set(a.event.id, size + i);
    });
    for (const tile of tileWrites(nodesToStore(appended.created))) {
      out.tiles.account.push(account);
      out.tiles.level.push(tile.level);
      out.tiles.idx.push(tile.tile);
      out.tiles.offset.push(tile.offset);
      out.tiles.hashes.push(tile.hashes.toString("hex"));
    }
    out.logs.account.push(account);
    out.logs.was.push(size);
    out.logs.wasFrontier.push(state.frontier.toString("hex"));
    out.logs.size.push(appended.size);
    out.logs.frontier.push(encodeFrontier(appended.frontier).toString("hex"));
  }
  return out;
}
