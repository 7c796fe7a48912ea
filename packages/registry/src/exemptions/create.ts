import { exemptions } from "@berth/db";
import { v7 as uuidv7 } from "uuid";
import { accountId, nowOf, type RegistryContext } from "../context";
import { conflict, isUniqueViolation } from "../errors";
import {
  changeExemption,
  checkScopeOwned,
  type ExemptionInfo,
  exemptionInfo,
  exemptionRecord,
  theExemption,
} from "./model";

/** container-registry.exemption.create */
export function createExemption(ctx: RegistryContext, raw: unknown): Promise<ExemptionInfo> {
  return changeExemption(ctx, raw, "container-registry.exemption.create", async (tx, input) => {
    await checkScopeOwned(tx, ctx, input.scope);
    const existing = await tx
      .select({ id: exemptions.id })
      .from(exemptions)
      .where(theExemption(ctx, input));
    const duplicate = conflict(
      `${input.issueId} is already exempted for scope ${input.scope} in region ${ctx.region}`,
    );
    if (existing.length > 0) throw duplicate;
    let row: typeof exemptions.$inferSelect | undefined;
    try {
      [row] = await tx
        .insert(exemptions)
        .values({
          id: uuidv7(),
          accountId: accountId(ctx),
          region: ctx.region,
          scope: input.scope,
          issueType: input.issueType,
          issueId: input.issueId,
          createdBy: ctx.principal.user.id,
          createdAt: nowOf(ctx),
        })
        .returning();
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicate;
      throw error;
    }
    const info = exemptionInfo(row!);
    return {
      result: info,
      records: [
        {
          ...exemptionRecord(input),
          status: 201,
          responseData: { id: info.id },
        },
      ],
    };
  });
}
