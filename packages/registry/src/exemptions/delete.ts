import { exemptions } from "@berth/db";
import { and, eq } from "drizzle-orm";
import { runAudited } from "../audit";
import { accountId, type RegistryContext } from "../context";
import { notFound } from "../errors";
import {
  type ExemptionInfo,
  exemptionFailureRecord,
  exemptionInfo,
  exemptionInput,
  exemptionTargetName,
} from "./model";

/** container-registry.exemption.delete */
export function deleteExemption(ctx: RegistryContext, raw: unknown): Promise<ExemptionInfo> {
  return runAudited(ctx, {
    action: "container-registry.exemption.delete",
    failure: () => [exemptionFailureRecord(raw)],
    execute: async (tx) => {
      const input = exemptionInput.parse(raw);
      const [row] = await tx
        .delete(exemptions)
        .where(
          and(
            eq(exemptions.accountId, accountId(ctx)),
            eq(exemptions.region, ctx.region),
            eq(exemptions.scope, input.scope),
            eq(exemptions.issueType, input.issueType),
            eq(exemptions.issueId, input.issueId),
          ),
        )
        .returning();
      if (!row) {
        throw notFound(
          `no exemption of ${input.issueId} for scope ${input.scope} in region ${ctx.region}`,
        );
      }
      return {
        result: exemptionInfo(row),
        records: [
          {
            target: { name: exemptionTargetName(input.scope, input.issueType, input.issueId) },
            messageDetail: `${input.issueId} for ${input.scope}`,
            requestData: { scope: input.scope, issueType: input.issueType, issueId: input.issueId },
          },
        ],
      };
    },
  });
}
