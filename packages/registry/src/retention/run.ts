import type { RetentionPolicy } from "@berth/core";
import { planRetention } from "@berth/core";
import { repositories, retentionPolicies, type Tx } from "@berth/db";
import { eq } from "drizzle-orm";
import { type AuditRecord, runAudited } from "../audit";
import type { BulkOutcome } from "../bulk";
import { nowOf, type RegistryContext } from "../context";
import { toRegistryError } from "../errors";
import { imageTarget } from "../images/resolve";
import { deleteManifest } from "../images/rm";
import { serviceContext } from "../lifecycle/service";
import type { NamespaceRow } from "../namespaces/lookup";
import { moveToTrash, trashPlace } from "../trash/store";
import { imageInfo, planNamespace, type RetentionImageInfo } from "./analyze";
import { retentionInventory } from "./inventory";
import { namespaceFailure, policyData, policyFor, retentionRunInput } from "./policy";

export type RetentionTrigger = "manual" | "schedule";

export interface RetentionRunResult {
  namespace: string;
  policy: RetentionPolicy;
  trigger: RetentionTrigger;
  /** Moved to the trash, each with its image.rm event. */
  removed: (RetentionImageInfo & { trashedUntil: string })[];
  /** Planned, but kept when its turn came: it changed meanwhile (pulled, tagged, removed). */
  skipped: RetentionImageInfo[];
  /** Planned, and its removal failed (its failure event says why). */
  failed: (RetentionImageInfo & { error: NonNullable<BulkOutcome["error"]> })[];
  /** Images the policy keeps. */
  kept: number;
}

type Planned = Awaited<ReturnType<typeof planNamespace>>;

/**
 * The container-registry.retention.run event of a run, in the transaction that marks the
 * policy as run and plans it: who started the run (the caller on demand, the service on
 * schedule), with which policy, and how many images it is about to remove. The removals
 * follow, one transaction and one image.rm event each (see removePlanned).
 */
export function beginRun(
  ctx: RegistryContext,
  trigger: RetentionTrigger,
  failure: () => AuditRecord[],
  resolve: (
    tx: Tx,
  ) => Promise<{ namespace: NamespaceRow; policy: RetentionPolicy; given: boolean }>,
): Promise<{ namespace: NamespaceRow; policy: RetentionPolicy; plan: Planned }> {
  return runAudited(ctx, {
    action: "container-registry.retention.run",
    failure,
    execute: async (tx) => {
      const { namespace, policy, given } = await resolve(tx);
      const now = nowOf(ctx);
      await tx
        .update(retentionPolicies)
        .set({ lastRunAt: now })
        .where(eq(retentionPolicies.namespaceId, namespace.id));
      const plan = await planNamespace(tx, namespace.id, policy, now);
      return {
        result: { namespace, policy, plan },
        records: [
          {
            target: { name: namespace.name },
            messageDetail: namespace.name,
            requestData: {
              namespace: namespace.name,
              policy: policyData(policy),
              policyGiven: given,
              trigger,
            },
            responseData: { planned: plan.remove.length, keep: plan.keep.length },
          },
        ],
      };
    },
  });
}

/**
 * The removals of a run: each planned image in its own transaction (a crash mid-run leaves
 * every image either removed with its event or untouched), with a container-registry.image.rm
 * event whose initiator is the service and whose requestData holds the policy. Each image is
 * planned again inside its transaction, with its repository locked, and left alone when that
 * plan keeps it, so a run never removes what analyze would now keep.
 */
export async function removePlanned(
  ctx: RegistryContext,
  run: { namespace: NamespaceRow; policy: RetentionPolicy; plan: Planned },
  trigger: RetentionTrigger,
): Promise<RetentionRunResult> {
  const service = {
    ...serviceContext(ctx.db, ctx.store, ctx.principal.account, ctx.region, {
      requestId: ctx.requestId,
      ...(ctx.now ? { now: ctx.now } : {}),
    }),
    ...(ctx.trashDays !== undefined ? { trashDays: ctx.trashDays } : {}),
  };
  const policy = policyData(run.policy);
  const result: RetentionRunResult = {
    namespace: run.namespace.name,
    policy,
    trigger,
    removed: [],
    skipped: [],
    failed: [],
    kept: run.plan.keep.length,
  };
  for (const planned of run.plan.remove) {
    const { repository, digest, repositoryId } = planned.image;
    const name = `${repository}@${digest}`;
    const requestData = {
      namespace: run.namespace.name,
      retentionPolicy: policy,
      trigger,
      reason: planned.reason,
    };
    try {
      const outcome = await runAudited(service, {
        action: "container-registry.image.rm",
        failure: () => [
          { target: imageTarget(name, repository, digest), messageDetail: name, requestData },
        ],
        execute: async (tx) => {
          const [repo] = await tx
            .select({ id: repositories.id })
            .from(repositories)
            .where(eq(repositories.id, repositoryId))
            .for("update");
          if (!repo) return { result: null, records: [] };
          const now = nowOf(service);
          const images = await retentionInventory(tx, { repositoryId });
          const again = planRetention(policy, images, now).remove.find(
            (d) => d.image.digest === digest,
          );
          if (!again) return { result: null, records: [] };
          const trashed = await moveToTrash(
            tx,
            trashPlace(service, repository, repositoryId),
            again.image.manifestId,
            { reason: "retention.run", now, days: service.trashDays },
          );
          const rows = await deleteManifest(tx, repositoryId, again.image.manifestId, {
            unlinkBlobs: true,
          });
          const trashedUntil = trashed.expiresAt.toISOString();
          const records: AuditRecord[] = [
            {
              target: imageTarget(name, repository, digest),
              messageDetail: name,
              requestData,
              responseData: { digest, tags: rows.tags, trashedUntil },
            },
            // An index's untagged platform manifests go with it: one event each, as image.rm.
            ...rows.children.map((child) => {
              const childName = `${repository}@${child}`;
              return {
                target: imageTarget(childName, repository, child),
                messageDetail: childName,
                requestData,
                responseData: { digest: child, index: digest },
              };
            }),
          ];
          return { result: { ...imageInfo(again), trashedUntil }, records };
        },
      });
      if (outcome) result.removed.push(outcome);
      else result.skipped.push(imageInfo(planned));
    } catch (thrown) {
      const error = toRegistryError(thrown);
      result.failed.push({
        ...imageInfo(planned),
        error: { code: error.code, message: error.message },
      });
    }
  }
  return result;
}

/**
 * container-registry.retention.run, on demand: move to the trash, now, what the namespace's
 * policy (or the one given) does not keep. Its event names the caller; each image removed
 * has its own image.rm event, initiated by the service, with the same correlation id.
 */
export async function runRetention(
  ctx: RegistryContext,
  raw: unknown,
): Promise<RetentionRunResult> {
  const run = await beginRun(
    ctx,
    "manual",
    () => namespaceFailure(raw),
    (tx) => policyFor(tx, ctx, retentionRunInput.parse(raw)),
  );
  return removePlanned(ctx, run, "manual");
}
