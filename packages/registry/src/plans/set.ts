import { canUpgrade, planSchema } from "@berth/core";
import { plans } from "@berth/db";
import { z } from "zod";
import { accountTarget, field, runAudited } from "../audit";
import { accountId, nowOf, type RegistryContext } from "../context";
import { badRequest } from "../errors";
import { type PlanInfo, planInfo } from "./get";
import { planOf } from "./lookup";

export const setPlanInput = z.object({ plan: planSchema });
export type SetPlanInput = z.input<typeof setPlanInput>;

/**
 * container-registry.plan.set: only upgrades (lite → standard); asking for the current
 * plan is a no-op success, a downgrade is refused.
 */
export function setPlan(
  ctx: RegistryContext,
  raw: unknown,
): Promise<PlanInfo & { changed: boolean }> {
  const requested = field(raw, "plan");
  return runAudited(ctx, {
    action: "container-registry.plan.set",
    failure: () => [
      {
        target: accountTarget(ctx),
        ...(planSchema.safeParse(requested).success ? { requestData: { plan: requested } } : {}),
      },
    ],
    execute: async (tx) => {
      const { plan } = setPlanInput.parse(raw);
      const current = await planOf(tx, accountId(ctx), ctx.region);
      const changed = current !== plan;
      if (changed && !canUpgrade(current, plan)) {
        throw badRequest(
          `the ${current} plan cannot be changed to ${plan}: plans can only be upgraded (lite to standard)`,
        );
      }
      if (changed) {
        const now = nowOf(ctx);
        await tx
          .insert(plans)
          .values({ accountId: accountId(ctx), region: ctx.region, plan, updatedAt: now })
          .onConflictDoUpdate({
            target: [plans.accountId, plans.region],
            set: { plan, updatedAt: now },
          });
      }
      return {
        result: { ...planInfo(ctx.region, plan), changed },
        records: [
          {
            target: accountTarget(ctx),
            messageDetail: plan,
            requestData: { plan },
            responseData: { previous: current, plan, changed },
          },
        ],
      };
    },
  });
}
