import { planRetention, type RetentionPlan, type RetentionPolicy } from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { runAuditedRead } from "../audit";
import { nowOf, type RegistryContext } from "../context";
import { type InventoryImage, retentionInventory } from "./inventory";
import { namespaceFailure, policyData, policyFor, retentionRunInput } from "./policy";

/** An image in an analysis or a run's answer. */
export interface RetentionImageInfo {
  repository: string;
  digest: string;
  tags: string[];
  pushedAt: string;
  lastPulledAt: string | null;
  /** Why it stays or goes (see planRetention). */
  reason: string;
}

export interface RetentionAnalysis {
  namespace: string;
  policy: RetentionPolicy;
  /** What a run would move to the trash now. */
  remove: RetentionImageInfo[];
  keep: RetentionImageInfo[];
}

export function imageInfo(d: RetentionPlan["keep" | "remove"][number]): RetentionImageInfo {
  return {
    repository: d.image.repository,
    digest: d.image.digest,
    tags: [...d.image.tags],
    pushedAt: d.image.pushedAt.toISOString(),
    lastPulledAt: d.image.lastPulledAt?.toISOString() ?? null,
    reason: d.reason,
  };
}

/** The plan of a namespace under a policy now: what analyze shows and a run starts from. */
export async function planNamespace(
  tx: DbOrTx,
  namespaceId: string,
  policy: RetentionPolicy,
  now: Date,
): Promise<RetentionPlan<InventoryImage>> {
  return planRetention(policy, await retentionInventory(tx, { namespaceId }), now);
}

/**
 * container-registry.retention.analyze: what a run of the namespace's policy (or of the one
 * given) would remove now, and what it keeps and why, without removing anything.
 */
export function analyzeRetention(ctx: RegistryContext, raw: unknown): Promise<RetentionAnalysis> {
  return runAuditedRead(ctx, {
    action: "container-registry.retention.analyze",
    failure: () => namespaceFailure(raw),
    read: async (db) => {
      const input = retentionRunInput.parse(raw);
      const { namespace, policy, given } = await policyFor(db, ctx, input);
      const plan = await planNamespace(db, namespace.id, policy, nowOf(ctx));
      const name = namespace.name;
      return {
        result: {
          namespace: name,
          policy: policyData(policy),
          remove: plan.remove.map(imageInfo),
          keep: plan.keep.map(imageInfo),
        },
        records: [
          {
            target: { name },
            messageDetail: name,
            requestData: { namespace: name, policy: policyData(policy), policyGiven: given },
            responseData: { remove: plan.remove.length, keep: plan.keep.length },
          },
        ],
      };
    },
  });
}
