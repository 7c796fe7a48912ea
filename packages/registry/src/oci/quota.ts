import {
  effectiveLimits,
  quotaAllows,
  STORAGE_QUOTA_MESSAGE,
  TRAFFIC_QUOTA_MESSAGE,
  trafficMonth,
} from "@berth/core";
import type { Db, DbOrTx } from "@berth/db";
import { namespaces, repositories, uploadSessions } from "@berth/db";
import { and, eq, sql } from "drizzle-orm";
import { accountId, nowOf, type RegistryContext } from "../context";
import { RegistryError } from "../errors";
import { planOf, quotasOf } from "../plans/lookup";
import { trafficUsage } from "../quota/usage";
import { addTraffic } from "./traffic-count";

/*
 * Quotas as the original enforced them (DESIGN §4): checked before each push or pull
 * against usage so far; the operation that crosses the limit runs, the next is refused.
 *
 * Storage is checked when a blob upload (or mount) starts, when each chunk of an upload
 * arrives and when a manifest is put (see checkStorageQuota for what "usage so far" means
 * inside a push, and uploads/space.ts for chunks).
 * Pull traffic is checked when a manifest is fetched (GET), which is where a pull starts.
 * Counted as pull traffic: the bytes of every manifest GET and of every blob GET (the bytes
 * actually read for the response, so a range or an aborted download counts what was sent).
 * HEAD requests and uploads count nothing. The original billed the bytes of image layers
 * pulled; manifests and configs are included here because they too are served bytes.
 */

export async function limitsOf(tx: DbOrTx, ctx: RegistryContext) {
  const account = accountId(ctx);
  const [plan, quotas] = await Promise.all([
    planOf(tx, account, ctx.region),
    quotasOf(tx, account, ctx.region),
  ]);
  return effectiveLimits(plan, quotas);
}

/** How long the blobs of a push in progress are its own business before they count. */
export const PENDING_GRACE_MS = 60 * 60 * 1000;

export interface PushUsage {
  /** Bytes of the account's images: the distinct blobs its manifests reference, and the manifests. */
  stored: number;
  /** Blobs uploaded into its repositories that no manifest references (pushes in progress). */
  pending: number;
  /** The part of `pending` uploaded more than PENDING_GRACE_MS ago (pushes given up). */
  stalePending: number;
}

/**
 * Storage of an account split for the push check. `stored + pending` is the storage usage
 * that quota.get reports (every distinct blob and manifest held).
 */
export async function pushUsage(
  tx: DbOrTx,
  account: string,
  region: string,
  now: Date = new Date(),
): Promise<PushUsage> {
  const staleBefore = new Date(now.getTime() - PENDING_GRACE_MS).toISOString();
  const rows = await tx.execute<{
    stored: string | number;
    pending: string | number;
    stale: string | number;
  }>(sql`
    with repos as (
      select r.id from repositories r join namespaces n on n.id = r.namespace_id
       where n.account_id = ${account} and n.region = ${region}),
    referenced as (
      select distinct mr.digest from manifest_references mr
        join manifests m on m.id = mr.manifest_id
       where m.repository_id in (select id from repos) and mr.kind <> 'manifest'),
    images as (
      select b.digest, b.size from blobs b where b.digest in (select digest from referenced)
      union
      select m.digest, m.size from manifests m where m.repository_id in (select id from repos)),
    pending as (
      select b.size, l.first_linked from blobs b
        join (select rb.digest, min(rb.created_at) as first_linked from repository_blobs rb
               where rb.repository_id in (select id from repos) group by rb.digest) l
          on l.digest = b.digest
       where b.digest not in (select digest from referenced))
    select
      (select coalesce(sum(size), 0) from images) as stored,
      (select coalesce(sum(size), 0) from pending) as pending,
      (select coalesce(sum(size), 0) from pending
        where first_linked < ${staleBefore}::timestamptz) as stale`);
  const row = rows[0];
  return {
    stored: Number(row?.stored ?? 0),
    pending: Number(row?.pending ?? 0),
    stalePending: Number(row?.stale ?? 0),
  };
}

/** Bytes the account's open (unfinished) uploads of the region hold now. */
export async function openUploadBytes(tx: DbOrTx, ctx: RegistryContext): Promise<number> {
  const rows = await tx
    .select({ id: uploadSessions.id, state: uploadSessions.state })
    .from(uploadSessions)
    .innerJoin(repositories, eq(repositories.id, uploadSessions.repositoryId))
    .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId))
    .where(and(eq(uploadSessions.accountId, accountId(ctx)), eq(namespaces.region, ctx.region)));
  const uploads = ctx.store.uploads();
  const sizes = await Promise.all(rows.map((r) => uploads.size(r.id, r.state)));
  return sizes.reduce<number>((sum, size) => sum + (size ?? 0), 0);
}

/**
 * Storage a push is checked against: the account's images, the blobs of pushes given up
 * (see checkStorageQuota) and the bytes of its open uploads, which are on disk too.
 */
export async function pushStorageUsage(tx: DbOrTx, ctx: RegistryContext): Promise<number> {
  const [usage, open] = await Promise.all([
    pushUsage(tx, accountId(ctx), ctx.region, nowOf(ctx)),
    openUploadBytes(tx, ctx),
  ]);
  return usage.stored + usage.stalePending + open;
}

/**
 * Refuse a push (QUOTA_EXCEEDED, rendered DENIED) once storage has reached the limit.
 * Checked at every blob upload start and manifest put (chunks: uploads/space.ts). As
 * DESIGN §4 has it, the push that crosses the limit completes and the next one is refused:
 * the blobs a push has uploaded but no manifest references yet do not count against its
 * own later requests. They count once they are older than PENDING_GRACE_MS, so uploading
 * blobs without ever pushing a manifest does not get around the quota; the bytes of open
 * uploads always count, so neither does never finishing them.
 */
export async function checkStorageQuota(
  tx: DbOrTx,
  ctx: RegistryContext,
  /** The storage limit when the caller looked it up already (null: no limit). */
  known?: { storageBytes: number | null },
): Promise<void> {
  const { storageBytes } = known ?? (await limitsOf(tx, ctx));
  if (storageBytes === null) return;
  if (!quotaAllows(await pushStorageUsage(tx, ctx), storageBytes)) {
    throw new RegistryError("QUOTA_EXCEEDED", STORAGE_QUOTA_MESSAGE);
  }
}

/** Refuse a pull once this month's pull traffic has reached the limit. */
export async function checkTrafficQuota(tx: DbOrTx, ctx: RegistryContext): Promise<void> {
  const { pullTrafficBytes } = await limitsOf(tx, ctx);
  if (pullTrafficBytes === null) return;
  const usage = await trafficUsage(tx, accountId(ctx), ctx.region, trafficMonth(nowOf(ctx)));
  if (!quotaAllows(usage, pullTrafficBytes)) {
    throw new RegistryError("QUOTA_EXCEEDED", TRAFFIC_QUOTA_MESSAGE);
  }
}

/**
 * Add served bytes to the caller's pull traffic of the current month: the bytes of a blob
 * fetch, and of a manifest GET once its `image.pull` has committed. Counted outside the
 * pull's transaction, so the account's one traffic row is never locked across that
 * transaction's commit, and group-committed with the other fetches of the moment
 * (traffic-count.ts).
 */
export async function countFetchTraffic(
  db: Db,
  ctx: RegistryContext,
  bytes: number,
): Promise<void> {
  if (bytes <= 0) return;
  await addTraffic(
    db,
    { account: accountId(ctx), region: ctx.region, month: trafficMonth(nowOf(ctx)) },
    bytes,
  );
}
