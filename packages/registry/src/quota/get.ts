import { DEFAULT_PLAN, effectiveLimits, type PlanName, trafficMonth } from "@berth/core";
import { type DbOrTx, plans, pullTraffic, quotas } from "@berth/db";
import { sql } from "drizzle-orm";
import { accountTarget, runAuditedRead } from "../audit";
import { accountId, nowOf, type RegistryContext } from "../context";
import { storageUsageQuery } from "./usage";

export interface QuotaInfo {
  region: string;
  plan: PlanName;
  /** The account's own quotas in MB; null when only the plan's cap applies. */
  quotas: { storageMb: number | null; trafficMb: number | null };
  /** What is enforced: the tighter of plan cap and quota, in bytes; null for no limit. */
  limits: { storageBytes: number | null; pullTrafficBytes: number | null };
  usage: { storageBytes: number; pullTrafficBytes: number };
  /** The pull-traffic month, "YYYY-MM" (UTC). */
  month: string;
}

/**
 * The quota state of the caller in the request's region (no event; used by quota.get and
 * quota.set): plan, quotas and both usages in one statement, one round trip and one query
 * of the pool (four asked at once on the pool took four of its connections per call).
 */
export async function readQuota(tx: DbOrTx, ctx: RegistryContext): Promise<QuotaInfo> {
  const account = accountId(ctx);
  const month = trafficMonth(nowOf(ctx));
  const [row] = await tx.execute<{
    plan: PlanName | null;
    storage_mb: number | null;
    traffic_mb: number | null;
    storage_bytes: string | number | bigint | null;
    traffic_bytes: string | number | bigint | null;
  }>(sql`
    select
      (select ${plans.plan} from ${plans}
        where ${plans.accountId} = ${account} and ${plans.region} = ${ctx.region}) as plan,
      q.storage_mb, q.traffic_mb,
      (${storageUsageQuery(account, ctx.region)}) as storage_bytes,
      (select ${pullTraffic.bytes} from ${pullTraffic}
        where ${pullTraffic.accountId} = ${account} and ${pullTraffic.region} = ${ctx.region}
          and ${pullTraffic.month} = ${month}) as traffic_bytes
    from (select 1) one
    left join ${quotas} q on q.account_id = ${account} and q.region = ${ctx.region}`);
  const plan = row?.plan ?? DEFAULT_PLAN;
  const quota = { storageMb: row?.storage_mb ?? null, trafficMb: row?.traffic_mb ?? null };
  return {
    region: ctx.region,
    plan,
    quotas: quota,
    limits: effectiveLimits(plan, quota),
    usage: {
      storageBytes: Number(row?.storage_bytes ?? 0),
      pullTrafficBytes: Number(row?.traffic_bytes ?? 0),
    },
    month,
  };
}

/** container-registry.quota.get */
export function getQuota(ctx: RegistryContext): Promise<QuotaInfo> {
  return runAuditedRead(ctx, {
    action: "container-registry.quota.get",
    failure: () => [{ target: accountTarget(ctx) }],
    read: async (db) => {
      const result = await readQuota(db, ctx);
      return {
        result,
        records: [
          {
            target: accountTarget(ctx),
            responseData: {
              plan: result.plan,
              storageMb: result.quotas.storageMb,
              trafficMb: result.quotas.trafficMb,
              storageUsageBytes: result.usage.storageBytes,
              pullTrafficUsageBytes: result.usage.pullTrafficBytes,
            },
          },
        ],
      };
    },
  });
}
