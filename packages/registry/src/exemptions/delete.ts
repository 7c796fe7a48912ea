import { exemptions } from "@berth/db";
import { runAudited } from "../audit";
import type { RegistryContext } from "../context";
import { notFound } from "../errors";
import {
  type ExemptionInfo,
  exemptionFailureRecord,
  exemptionInfo,
  exemptionInput,
  exemptionRecord,
  theExemption,
} from "./model";

/** container-registry.exemption.delete */
export function deleteExemption(ctx: RegistryContext, raw: unknown): Promise<ExemptionInfo> {
  return runAudited(ctx, {
    action: "container-registry.exemption.delete",
    failure: () => [exemptionFailureRecord(raw)],
    execute: async (tx) => {
      const input = exemptionInput.parse(raw);
      const [row] = await tx.delete(exemptions).where(theExemption(ctx, input)).returning();
      if (!row) {
        throw notFound(
          `no exemption of ${input.issueId} for scope ${input.scope} in region ${ctx.region}`,
        );
      }
      return {
        result: exemptionInfo(row),
        records: [exemptionRecord(input)],
      };
    },
  });
}
