import { exemptions } from "@berth/db";
import type { RegistryContext } from "../context";
import { notFound } from "../errors";
import {
  changeExemption,
  type ExemptionInfo,
  exemptionInfo,
  exemptionRecord,
  theExemption,
} from "./model";

/** container-registry.exemption.delete */
export function deleteExemption(ctx: RegistryContext, raw: unknown): Promise<ExemptionInfo> {
  return changeExemption(ctx, raw, "container-registry.exemption.delete", async (tx, input) => {
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
  });
}
