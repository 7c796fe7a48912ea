import { InvalidExemptionScopeError, parseExemptionScope, scopeApplies } from "@berth/core";
import { exemptions } from "@berth/db";
import { and, asc, eq } from "drizzle-orm";
import { z } from "zod";
import { accountId, type RegistryContext } from "../context";
import { badRequest, zodMessage } from "../errors";
import { type ExemptionInfo, exemptionInfo } from "./model";

export const listExemptionsInput = z
  .object({
    /** Only the exemptions that apply to this scope (`*`, `ns`, `ns/repo`, `ns/repo:tag`, `ns/repo@digest`). */
    scope: z.string().optional(),
  })
  .default({});
export type ListExemptionsInput = z.input<typeof listExemptionsInput>;

/**
 * The caller's exemptions in the region, or those that apply to a scope (the scope itself
 * and every broader one). Not an audited action: the catalog names no event for it.
 */
export async function listExemptions(ctx: RegistryContext, raw: unknown): Promise<ExemptionInfo[]> {
  const parsed = listExemptionsInput.safeParse(raw ?? {});
  if (!parsed.success) throw badRequest(zodMessage(parsed.error));
  const { scope } = parsed.data;
  if (scope !== undefined) {
    try {
      parseExemptionScope(scope, { allowTagAndDigest: true });
    } catch (error) {
      if (error instanceof InvalidExemptionScopeError) throw badRequest(error.message);
      throw error;
    }
  }
  const rows = await ctx.db
    .select()
    .from(exemptions)
    .where(and(eq(exemptions.accountId, accountId(ctx)), eq(exemptions.region, ctx.region)))
    .orderBy(asc(exemptions.scope), asc(exemptions.issueId));
  return rows
    .filter((row) => scope === undefined || scopeApplies(row.scope, scope))
    .map(exemptionInfo);
}
