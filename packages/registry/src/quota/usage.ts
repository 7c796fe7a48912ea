import type { DbOrTx } from "@berth/db";
import { pullTraffic } from "@berth/db";
import { and, eq, type SQL, sql } from "drizzle-orm";

/**
 * Bytes an account stores in a region: every distinct blob linked to one of its
 * repositories or kept by its trash, plus every distinct manifest, trashed ones included.
 * A layer shared by several images or repositories counts once.
 */
export async function storageUsage(db: DbOrTx, accountId: string, region: string): Promise<number> {
  const rows = await db.execute<{ bytes: string | number | bigint | null }>(
    sql`select (${storageUsageQuery(accountId, region)}) as bytes`,
  );
  return Number(rows[0]?.bytes ?? 0);
}

/** storageUsage as a scalar subquery, for statements that read it with other things. */
export function storageUsageQuery(accountId: string, region: string): SQL {
  // The account's repositories and trash entries in the region, each written once (not
  // materialized: Postgres plans each use as if the subquery were written there).
  return sql`
    with repos as not materialized (
      select r.id
        from repositories r
        join namespaces n on n.id = r.namespace_id
       where n.account_id = ${accountId} and n.region = ${region}
    ), trash as not materialized (
      select te.id, te.digest, te.size
        from trash_entries te
       where te.account_id = ${accountId} and te.region = ${region}
    )
    select coalesce(sum(size), 0) from (
      select b.digest, b.size
        from repository_blobs rb
        join repos on repos.id = rb.repository_id
        join blobs b on b.digest = rb.digest
      union
      select m.digest, m.size
        from manifests m
        join repos on repos.id = m.repository_id
      union
      select b.digest, b.size
        from trash_blobs tb
        join trash on trash.id = tb.entry_id
        join blobs b on b.digest = tb.digest
      union
      select trash.digest, trash.size from trash
    ) s`;
}

/** Bytes pulled by an account in a region in a month ("YYYY-MM", UTC). */
export async function trafficUsage(
  db: DbOrTx,
  accountId: string,
  region: string,
  month: string,
): Promise<number> {
  const rows = await db
    .select({ bytes: pullTraffic.bytes })
    .from(pullTraffic)
    .where(
      and(
        eq(pullTraffic.accountId, accountId),
        eq(pullTraffic.region, region),
        eq(pullTraffic.month, month),
      ),
    );
  return Number(rows[0]?.bytes ?? 0);
}

/** Add pulled bytes to the month's traffic (the OCI layer calls it after serving a pull). */
export async function addTraffic(
  db: DbOrTx,
  accountId: string,
  region: string,
  month: string,
  bytes: number,
): Promise<void> {
  await db
    .insert(pullTraffic)
    .values({ accountId, region, month, bytes })
    .onConflictDoUpdate({
      target: [pullTraffic.accountId, pullTraffic.region, pullTraffic.month],
      set: { bytes: sql`${pullTraffic.bytes} + ${bytes}` },
    });
}
