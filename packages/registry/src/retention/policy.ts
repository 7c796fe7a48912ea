import { namespaceNameSchema, type RetentionPolicy, retentionPolicySchema } from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { retentionPolicies } from "@berth/db";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { type AuditRecord, field, safeName } from "../audit";
import type { RegistryContext } from "../context";
import { notFound } from "../errors";
import { type NamespaceRow, requireNamespace } from "../namespaces/lookup";

export const setRetentionInput = retentionPolicySchema.extend({ namespace: namespaceNameSchema });
export type SetRetentionInput = z.input<typeof setRetentionInput>;

export const getRetentionInput = z.strictObject({ namespace: namespaceNameSchema });
export type GetRetentionInput = z.input<typeof getRetentionInput>;

/** analyze and run: the namespace's stored policy, or one given for this call alone. */
export const retentionRunInput = z.strictObject({
  namespace: namespaceNameSchema,
  policy: retentionPolicySchema.optional(),
});
export type RetentionRunInput = z.input<typeof retentionRunInput>;

export interface StoredPolicy extends RetentionPolicy {
  updatedAt: string;
  /** When a run of it (on demand or scheduled) last started, or null. */
  lastRunAt: string | null;
}

/** The policy as events and answers show it. */
export function policyData(policy: RetentionPolicy): RetentionPolicy {
  return {
    imagesPerRepository: policy.imagesPerRepository,
    keepUntagged: policy.keepUntagged,
    keepPulledWithinDays: policy.keepPulledWithinDays,
  };
}

export async function storedPolicy(
  tx: DbOrTx,
  namespaceId: string,
  opts: { forUpdate?: boolean } = {},
): Promise<StoredPolicy | null> {
  const query = tx
    .select()
    .from(retentionPolicies)
    .where(eq(retentionPolicies.namespaceId, namespaceId));
  const [row] = opts.forUpdate ? await query.for("update") : await query;
  if (!row) return null;
  return {
    ...policyData(row),
    updatedAt: row.updatedAt.toISOString(),
    lastRunAt: row.lastRunAt?.toISOString() ?? null,
  };
}

/** The caller's namespace and the policy a call uses: the one given, else the stored one. */
export async function policyFor(
  tx: DbOrTx,
  ctx: RegistryContext,
  input: z.output<typeof retentionRunInput>,
): Promise<{ namespace: NamespaceRow; policy: RetentionPolicy; given: boolean }> {
  const namespace = await requireNamespace(tx, ctx, input.namespace);
  if (input.policy) return { namespace, policy: input.policy, given: true };
  const stored = await storedPolicy(tx, namespace.id);
  if (!stored) {
    throw notFound(
      `namespace ${input.namespace} has no retention policy: set one with retention.set, or give one for this call`,
    );
  }
  return { namespace, policy: policyData(stored), given: false };
}

/** The failure event of a call on a namespace, from raw input. */
export function namespaceFailure(raw: unknown): AuditRecord[] {
  const name = safeName(field(raw, "namespace"));
  return [{ target: { name }, messageDetail: name }];
}
