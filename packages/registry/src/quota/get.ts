import { effectiveLimits, type PlanName, trafficMonth } from "@berth/core";
import { accountTarget, runAuditedRead } from "../audit";
import { accountId, nowOf, type RegistryContext } from "../context";
import { planOf, quotasOf } from "../plans/lookup";
import { storageUsage, trafficUsage } from "./usage";

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

/** The quota state of the caller in the request's region (no event; used by quota.get and quota.set). */
export async function readQuota(
  tx: Parameters<typeof storageUsage>[0],
  ctx: RegistryContext,
): Promise<QuotaInfo> {
  const account = accountId(ctx);
  const month = trafficMonth(nowOf(ctx));
  // Four reads asked at once: in a transaction postgres.js sends them together on its
  // connection (one round trip, not four); on the pool (quota.get) they go out at once.
  const [plan, quotas, storageBytes, pullTrafficBytes] = await Promise.all([
    planOf(tx, account, ctx.region),
    quotasOf(tx, account, ctx.region),
    storageUsage(tx, account, ctx.region),
    trafficUsage(tx, account, ctx.region, month),
  ]);
  return {
    region: ctx.region,
    plan,
    quotas: { storageMb: quotas.storageMb, trafficMb: quotas.trafficMb },
    limits: effectiveLimits(plan, quotas),
    usage: { storageBytes, pullTrafficBytes },
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
