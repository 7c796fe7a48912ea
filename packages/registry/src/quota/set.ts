import { MB, PLANS, validateQuotaSet } from "@berth/core";
import { quotas } from "@berth/db";
import { sql } from "drizzle-orm";
import { z } from "zod";
import { accountTarget, runAudited } from "../audit";
import { accountId, nowOf, type RegistryContext } from "../context";
import { badRequest, RegistryError } from "../errors";
import { planOf } from "../plans/lookup";
import { type QuotaInfo, readQuota } from "./get";

// The column is a 4-byte integer: 2^31-1 MB is 2 PB, beyond any plan.
const MAX_MB = 2_147_483_647;
const quotaMb = z.int().min(0).max(MAX_MB).nullable().optional();

/** Quotas in MB; null clears a quota (back to the plan's cap), omitted leaves it unchanged. */
export const setQuotaInput = z.object({ storageMb: quotaMb, trafficMb: quotaMb });
export type SetQuotaInput = z.input<typeof setQuotaInput>;

/** container-registry.quota.set: fails above the plan's cap (lite: 512 MB / 5120 MB). */
export function setQuota(ctx: RegistryContext, raw: unknown): Promise<QuotaInfo> {
  return runAudited(ctx, {
    action: "container-registry.quota.set",
    failure: () => [{ target: accountTarget(ctx), requestData: safeRequest(raw) }],
    execute: async (tx) => {
      const input = setQuotaInput.parse(raw);
      const plan = await planOf(tx, accountId(ctx), ctx.region);
      const check = validateQuotaSet(plan, input);
      if (!check.ok) {
        const caps = PLANS[plan];
        const overCap =
          aboveCap(input.storageMb, caps.storageBytes) ||
          aboveCap(input.trafficMb, caps.pullTrafficBytes);
        throw overCap ? new RegistryError("PLAN_LIMIT", check.message) : badRequest(check.message);
      }
      const values = {
        ...(input.storageMb !== undefined ? { storageMb: input.storageMb } : {}),
        ...(input.trafficMb !== undefined ? { trafficMb: input.trafficMb } : {}),
        updatedAt: nowOf(ctx),
      };
      await tx
        .insert(quotas)
        .values({ accountId: accountId(ctx), region: ctx.region, ...values })
        .onConflictDoUpdate({
          target: [quotas.accountId, quotas.region],
          set: { ...values, updatedAt: sql`excluded.updated_at` },
        });
      const result = await readQuota(tx, ctx);
      return {
        result,
        records: [
          {
            target: accountTarget(ctx),
            requestData: safeRequest(input),
            responseData: {
              storageMb: result.quotas.storageMb,
              trafficMb: result.quotas.trafficMb,
            },
          },
        ],
      };
    },
  });
}

function aboveCap(mb: number | null | undefined, capBytes: number | null): boolean {
  return typeof mb === "number" && capBytes !== null && mb * MB > capBytes;
}

/** The quota values of a request, only when they are plain numbers or null. */
function safeRequest(raw: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of ["storageMb", "trafficMb"] as const) {
    const v =
      raw !== null && typeof raw === "object" ? (raw as Record<string, unknown>)[key] : undefined;
    if (v === null || (typeof v === "number" && Number.isFinite(v))) out[key] = v;
  }
  return out;
}
