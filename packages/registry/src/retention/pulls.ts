import type { RepositoryName } from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { sql } from "drizzle-orm";
import { accountId, nowOf, type RegistryContext } from "../context";

const HOUR_MS = 3_600_000;

/**
 * Note a pull of a manifest for retention (images pulled lately are never removed), in the
 * pull's own transaction. One statement, and a write at most once an hour per image: when
 * the stored time is recent the insert selects nothing, so a busy image's pulls neither
 * write nor wait on each other's row locks (PULL_RECORD_RESOLUTION_MS covers the lag).
 */
export async function recordPull(
  tx: DbOrTx,
  ctx: RegistryContext,
  name: RepositoryName,
  digest: string,
): Promise<void> {
  const now = nowOf(ctx);
  const stale = new Date(now.getTime() - HOUR_MS).toISOString();
  await tx.execute(sql`
    insert into manifest_pulls (repository_id, digest, last_pulled_at)
    select r.id, ${digest}, ${now.toISOString()}::timestamptz
      from namespaces n join repositories r on r.namespace_id = n.id and r.name = ${name.name}
     where n.region = ${ctx.region} and n.name = ${name.namespace}
       and n.account_id = ${accountId(ctx)}
       and not exists (select 1 from manifest_pulls p
                        where p.repository_id = r.id and p.digest = ${digest}
                          and p.last_pulled_at > ${stale}::timestamptz)
    on conflict (repository_id, digest) do update set last_pulled_at = excluded.last_pulled_at
     where manifest_pulls.last_pulled_at < excluded.last_pulled_at`);
}
