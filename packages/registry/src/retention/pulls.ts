import { PULL_RECORD_RESOLUTION_MS, type RepositoryName } from "@berth/core";
import type { Db } from "@berth/db";
import { sql } from "drizzle-orm";
import { accountId, nowOf, type RegistryContext } from "../context";

/**
 * Whether a pull must record its time (recordPull): never recorded, or longer ago than
 * PULL_RECORD_RESOLUTION_MS, the lag retention allows for. Most pulls of a busy image write
 * nothing for retention.
 */
export function pullTimeStale(pulledAt: Date | null, now: Date): boolean {
  return pulledAt === null || pulledAt.getTime() <= now.getTime() - PULL_RECORD_RESOLUTION_MS;
}

/**
 * Note a pull of a manifest for retention (images pulled lately are never removed). One
 * statement, and a write at most once per PULL_RECORD_RESOLUTION_MS per image: when the
 * stored time is recent (another pull wrote it since the caller looked) the insert selects
 * nothing, so a busy image's pulls neither write nor wait on each other's row locks.
 *
 * Its own statement on the pool (never in a caller's transaction: the setting below would
 * apply to all of it), committed without waiting for the WAL flush. Nothing is lost by that:
 * the pull is answered only once its event has committed synchronously, afterwards, and a
 * flush reaches every commit written before its own; a pull that is never answered may lose
 * its time, and retention then keeps the image by the previous one. One disk flush less on
 * the path of every first pull of an image (a pushed image's first pull is its deployment).
 */
export async function recordPull(
  db: Db,
  ctx: RegistryContext,
  name: RepositoryName,
  digest: string,
): Promise<void> {
  const now = nowOf(ctx);
  const stale = new Date(now.getTime() - PULL_RECORD_RESOLUTION_MS).toISOString();
  // A data-modifying WITH runs to completion whether or not the query reads it.
  await db.execute(sql`
    with recorded as (
      insert into manifest_pulls (repository_id, digest, last_pulled_at)
      select r.id, ${digest}, ${now.toISOString()}::timestamptz
        from namespaces n join repositories r on r.namespace_id = n.id and r.name = ${name.name}
       where n.region = ${ctx.region} and n.name = ${name.namespace}
         and n.account_id = ${accountId(ctx)}
         and not exists (select 1 from manifest_pulls p
                          where p.repository_id = r.id and p.digest = ${digest}
                            and p.last_pulled_at > ${stale}::timestamptz)
      on conflict (repository_id, digest) do update set last_pulled_at = excluded.last_pulled_at
       where manifest_pulls.last_pulled_at < excluded.last_pulled_at
    )
    select set_config('synchronous_commit', 'off', true)`);
}
