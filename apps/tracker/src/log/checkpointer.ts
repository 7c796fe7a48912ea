import { rootOfFrontier, type SigningKey, signCheckpoint } from "@berth/tlog";
import type { Logger } from "pino";
import type postgres from "postgres";
import { decodeFrontier } from "./frontier";
import { logOrigin } from "./signing-key";

/** How often the tracker looks for grown logs; a log gets at most one checkpoint a second. */
const TICK_MS = 200;
const PER_TICK = 200;

/**
 * Signs a checkpoint for every log that has grown since its last one, at most once a second
 * per log. Any number of tracker processes may run this: each claims logs with an UPDATE
 * that skips rows another holds, and the claim, the read of size and frontier, and the stored
 * checkpoint are one transaction.
 */
export function startCheckpointer(
  sql: postgres.Sql,
  key: SigningKey,
  log: Logger,
): { stop(): Promise<void>; runOnce(): Promise<number> } {
  let stopped = false;
  let running: Promise<number> | undefined;
  const runOnce = async (): Promise<number> =>
    sql.begin(async (tx) => {
      const rows = await tx<
        { account_id: string; region: string; size: number | bigint; frontier: Buffer }[]
      >`
        update tracker.logs g set checkpoint_size = g.size, checkpoint_at = now()
          from (select account_id, region from tracker.logs
                 where checkpoint_size < size
                   and coalesce(checkpoint_at, '-infinity') <= now() - interval '1 second'
                 order by checkpoint_at nulls first
                 limit ${PER_TICK} for update skip locked) due
         where g.account_id = due.account_id and g.region = due.region
         returning g.account_id, g.region, g.size, g.frontier`;
      if (rows.length === 0) return 0;
      const notes = rows.map((r) => {
        const size = Number(r.size);
        const root = rootOfFrontier(decodeFrontier(size, r.frontier));
        return signCheckpoint({ origin: logOrigin(r.region, r.account_id), size, root }, key);
      });
      // Committed without waiting for the WAL flush: the claim holds these logs' rows, which
      // every ingestion into them locks, so a flush-long commit held their ingestions back. A
      // crash loses such a commit only if no commit after it was flushed, so no event entered
      // the log after it: the claim is lost with it, the log counts as grown again and is
      // signed anew at the same size, the same note (Ed25519 signatures are deterministic).
      await Promise.all([
        tx`set local synchronous_commit = off`.execute(),
        tx`
        insert into tracker.checkpoints (account_id, region, size, note)
        select * from unnest(${rows.map((r) => r.account_id)}::text[], ${rows.map((r) => r.region)}::text[],
                             ${rows.map((r) => Number(r.size))}::bigint[], ${notes}::text[])
        on conflict do nothing`.execute(),
      ]);
      return rows.length;
    });
  const timer = setInterval(() => {
    if (stopped || running) return;
    running = runOnce()
      .catch((error: unknown) => {
        log.warn({ err: error }, "checkpoint round failed; retrying");
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
  }, TICK_MS);
  timer.unref();
  return {
    runOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
