import { exemptionIssueSchema, exemptionScopeSchema, parseExemptionScope } from "@berth/core";
import { type DbOrTx, exemptions, type Tx } from "@berth/db";
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { type AuditedAttempt, field, runAudited, safeName } from "../audit";
import { accountId, type RegistryContext } from "../context";
import { requireNamespace } from "../namespaces/lookup";

export type ExemptionRow = typeof exemptions.$inferSelect;

export interface ExemptionInfo {
  id: string;
  region: string;
  scope: string;
  issueType: "cve" | "configuration";
  issueId: string;
  createdBy: string;
  createdAt: string;
}

export function exemptionInfo(row: ExemptionRow): ExemptionInfo {
  return {
    id: row.id,
    region: row.region,
    scope: row.scope,
    issueType: row.issueType,
    issueId: row.issueId,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
  };
}

/** An exemption is named by what it exempts: scope, issue type and issue id. */
export const exemptionInput = z.intersection(
  z.object({ scope: exemptionScopeSchema }),
  exemptionIssueSchema,
);
export type ExemptionInput = z.input<typeof exemptionInput>;

/** Target name of an exemption's events: `<scope>/<issue type>/<issue id>`. */
export function exemptionTargetName(scope: string, issueType: string, issueId: string): string {
  return `${scope}/${issueType}/${issueId}`;
}

/** The caller's exemption in the region that `input` names (at most one: it is unique). */
export function theExemption(ctx: RegistryContext, input: z.output<typeof exemptionInput>) {
  return and(
    eq(exemptions.accountId, accountId(ctx)),
    eq(exemptions.region, ctx.region),
    eq(exemptions.scope, input.scope),
    eq(exemptions.issueType, input.issueType),
    eq(exemptions.issueId, input.issueId),
  );
}

/** What the event of a successful exemption.create or .delete says of the exemption. */
export function exemptionRecord(input: z.output<typeof exemptionInput>) {
  const { scope, issueType, issueId } = input;
  return {
    target: { name: exemptionTargetName(scope, issueType, issueId) },
    messageDetail: `${issueId} for ${scope}`,
    requestData: { scope, issueType, issueId },
  };
}

export function exemptionFailureRecord(raw: unknown) {
  const scope = safeName(field(raw, "scope"));
  const issueType = safeName(field(raw, "issueType"));
  const issueId = safeName(field(raw, "issueId"));
  return {
    target: { name: exemptionTargetName(scope, issueType, issueId) },
    messageDetail: `${issueId} for ${scope}`,
  };
}

/**
 * A scope naming a namespace must name one of the caller's namespaces in the region;
 * repositories and tags inside it need not exist yet (exempting before pushing is normal).
 */
export async function checkScopeOwned(
  tx: DbOrTx,
  ctx: RegistryContext,
  scope: string,
): Promise<void> {
  const parsed = parseExemptionScope(scope);
  if (parsed.kind !== "account") await requireNamespace(tx, ctx, parsed.namespace);
}

/**
 * The audited frame that exemption.create and .delete share: the input is parsed inside it
 * (so bad input gets its failure event) and a failure names the exemption as the raw input
 * does; `change` writes the change and returns its result and records.
 */
export function changeExemption(
  ctx: RegistryContext,
  raw: unknown,
  action: "container-registry.exemption.create" | "container-registry.exemption.delete",
  change: (
    tx: Tx,
    input: z.output<typeof exemptionInput>,
  ) => ReturnType<AuditedAttempt<ExemptionInfo>["execute"]>,
): Promise<ExemptionInfo> {
  return runAudited(ctx, {
    action,
    failure: () => [exemptionFailureRecord(raw)],
    execute: async (tx) => change(tx, exemptionInput.parse(raw)),
  });
}
