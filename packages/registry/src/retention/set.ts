import type { RetentionPolicy } from "@berth/core";
import { retentionPolicies } from "@berth/db";
import { nowOf, type RegistryContext } from "../context";
import { runOnNamed } from "../named-action";
import { requireNamespace } from "../namespaces/lookup";
import { policyData, setRetentionInput, storedPolicy } from "./policy";

export interface SetRetentionResult {
  namespace: string;
  policy: RetentionPolicy;
  /** The policy it replaced, or null. */
  previous: RetentionPolicy | null;
}

/**
 * container-registry.retention.set: the retention policy of one of the caller's namespaces
 * (created or replaced). Nothing is removed until a run; the event carries the previous
 * policy, so the trail shows what changed.
 */
export function setRetention(ctx: RegistryContext, raw: unknown): Promise<SetRetentionResult> {
  return runOnNamed(ctx, raw, "namespace", {
    action: "container-registry.retention.set",
    input: setRetentionInput,
    execute: async (tx, { namespace: name, ...given }) => {
      const ns = await requireNamespace(tx, ctx, name);
      const before = await storedPolicy(tx, ns.id, { forUpdate: true });
      const policy = policyData(given);
      const now = nowOf(ctx);
      await tx
        .insert(retentionPolicies)
        .values({ namespaceId: ns.id, ...policy, updatedAt: now })
        .onConflictDoUpdate({
          target: retentionPolicies.namespaceId,
          set: { ...policy, updatedAt: now },
        });
      const previous = before ? policyData(before) : null;
      return {
        result: { namespace: name, policy, previous },
        records: [
          {
            target: { name },
            messageDetail: name,
            requestData: { namespace: name, ...policy },
            responseData: { previous },
          },
        ],
      };
    },
  });
}
