import { PLANS, type PlanName } from "@berth/core";
import { accountTarget, runAuditedRead } from "../audit";
import { accountId, type RegistryContext } from "../context";
import { planOf } from "./lookup";

export interface PlanInfo {
  region: string;
  plan: PlanName;
  /** The plan's caps in bytes; null for none. */
  caps: { storageBytes: number | null; pullTrafficBytes: number | null };
}

export function planInfo(region: string, plan: PlanName): PlanInfo {
  return { region, plan, caps: { ...PLANS[plan] } };
}

/** container-registry.plan.get */
export function getPlan(ctx: RegistryContext): Promise<PlanInfo> {
  return runAuditedRead(ctx, {
    action: "container-registry.plan.get",
    failure: () => [{ target: accountTarget(ctx) }],
    read: async (db) => {
      const plan = await planOf(db, accountId(ctx), ctx.region);
      return {
        result: planInfo(ctx.region, plan),
        records: [{ target: accountTarget(ctx), responseData: { plan } }],
      };
    },
  });
}
