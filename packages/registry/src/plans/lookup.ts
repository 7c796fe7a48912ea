import { DEFAULT_PLAN, type PlanName, type UserQuotas } from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { plans, quotas } from "@berth/db";
import { and, eq } from "drizzle-orm";

/** The account's plan in a region; no row means the default (lite). */
export async function planOf(db: DbOrTx, accountId: string, region: string): Promise<PlanName> {
  const rows = await db
    .select({ plan: plans.plan })
    .from(plans)
    .where(and(eq(plans.accountId, accountId), eq(plans.region, region)));
  return rows[0]?.plan ?? DEFAULT_PLAN;
}

/** The account's own quotas in a region, in MB (null: only the plan's cap). */
export async function quotasOf(db: DbOrTx, accountId: string, region: string): Promise<UserQuotas> {
  const rows = await db
    .select({ storageMb: quotas.storageMb, trafficMb: quotas.trafficMb })
    .from(quotas)
    .where(and(eq(quotas.accountId, accountId), eq(quotas.region, region)));
  return { storageMb: rows[0]?.storageMb ?? null, trafficMb: rows[0]?.trafficMb ?? null };
}
