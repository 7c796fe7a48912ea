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
  logs: { account: string[]; size: number[]; frontier: string[] };
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
): Promise<LogAppend> {
  // The account of each event: the expression that fills the row's account_id column (store.ts),
  // so an event is always in the log of the domain it is filed under (the CRN was validated).
  const accountOf = events.map((e) => crnAccount(e.event.target.id));
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
  const leaves = events.map((e) => canonicalLeafHash(canonicalEvent(e.stored)));
  const [, rows, found] = await placed;
  const duplicates = new Set(found.map((r) => r.id));
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
    logs: { account: [], size: [], frontier: [] },
  };
  for (const row of rows) {
    const added = byAccount.get(row.account_id);
    if (!added) continue;
    const size = Number(row.size);
    const appended = appendLeaves(
      decodeFrontier(size, row.frontier),
      size,
      added.map((a) => a.leaf),
    );
    added.forEach((a, i) => {
      out.indexes.set(a.event.id, size + i);
    });
    for (const tile of tileWrites(nodesToStore(appended.created))) {
      out.tiles.account.push(row.account_id);
      out.tiles.level.push(tile.level);
      out.tiles.idx.push(tile.tile);
      out.tiles.offset.push(tile.offset);
      out.tiles.hashes.push(tile.hashes.toString("hex"));
    }
    out.logs.account.push(row.account_id);
    out.logs.size.push(appended.size);
    out.logs.frontier.push(encodeFrontier(appended.frontier).toString("hex"));
  }
  return out;
}
