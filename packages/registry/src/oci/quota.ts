import {
  effectiveLimits,
  quotaAllows,
  STORAGE_QUOTA_MESSAGE,
  TRAFFIC_QUOTA_MESSAGE,
  trafficMonth,
} from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { accountId, nowOf, type RegistryContext } from "../context";
import { RegistryError } from "../errors";
import { planOf, quotasOf } from "../plans/lookup";
import { addTraffic, storageUsage, trafficUsage } from "../quota/usage";

/*
 * Quotas as the original enforced them (DESIGN §4): checked before each push or pull
 * against usage so far; the operation that crosses the limit runs, the next is refused.
 *
 * Storage is checked when a blob upload (or mount) starts and when a manifest is put.
 * Pull traffic is checked when a manifest is fetched (GET), which is where a pull starts.
 * Counted as pull traffic: the bytes of every manifest GET and of every blob GET (the bytes
 * actually read for the response, so a range or an aborted download counts what was sent).
 * HEAD requests and uploads count nothing. The original billed the bytes of image layers
 * pulled; manifests and configs are included here because they too are served bytes.
 */

async function limitsOf(tx: DbOrTx, ctx: RegistryContext) {
  const account = accountId(ctx);
  const [plan, quotas] = await Promise.all([
    planOf(tx, account, ctx.region),
    quotasOf(tx, account, ctx.region),
  ]);
  return effectiveLimits(plan, quotas);
}

/** Refuse a push (QUOTA_EXCEEDED, rendered DENIED) once storage usage has reached the limit. */
export async function checkStorageQuota(tx: DbOrTx, ctx: RegistryContext): Promise<void> {
  const { storageBytes } = await limitsOf(tx, ctx);
  if (storageBytes === null) return;
  const usage = await storageUsage(tx, accountId(ctx), ctx.region);
  if (!quotaAllows(usage, storageBytes)) {
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

/** Add served bytes to the caller's pull traffic of the current month. */
export async function countPullTraffic(
  tx: DbOrTx,
  ctx: RegistryContext,
  bytes: number,
): Promise<void> {
  if (bytes <= 0) return;
  await addTraffic(tx, accountId(ctx), ctx.region, trafficMonth(nowOf(ctx)), bytes);
}
