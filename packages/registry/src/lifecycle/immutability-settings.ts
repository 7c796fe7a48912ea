import { namespaceNameSchema, repositoryNameProblem, validateNamespaceName } from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { tagImmutability } from "@berth/db";
import { and, asc, eq } from "drizzle-orm";
import { z } from "zod";
import { field, runAudited, runAuditedRead, safeName } from "../audit";
import { nowOf, type RegistryContext } from "../context";
import { requireNamespace } from "../namespaces/lookup";

/** `ns` (the whole namespace) or `ns/repo` (one repository, which need not exist yet). */
const scopeSchema = z
  .string()
  .min(1)
  .max(255)
  .superRefine((scope, ctx) => {
    if (!scope.includes("/")) {
      const check = validateNamespaceName(scope);
      if (!check.ok) ctx.addIssue({ code: "custom", message: check.message });
      return;
    }
    const problem = repositoryNameProblem(scope);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

export const setImmutabilityInput = z.object({
  scope: scopeSchema,
  /** true: existing tags can no longer be moved or removed; false: they can again. */
  immutable: z.boolean(),
});
export type SetImmutabilityInput = z.input<typeof setImmutabilityInput>;

export const getImmutabilityInput = z.object({ namespace: namespaceNameSchema });
export type GetImmutabilityInput = z.input<typeof getImmutabilityInput>;

export interface ImmutabilitySetting {
  namespace: string;
  /** Tags of every repository of the namespace are immutable. */
  immutable: boolean;
  /** Repositories ("ns/repo") immutable on their own. */
  repositories: string[];
}

async function settingOf(
  tx: DbOrTx,
  namespace: { id: string; name: string },
): Promise<ImmutabilitySetting> {
  const rows = await tx
    .select({ repository: tagImmutability.repository })
    .from(tagImmutability)
    .where(eq(tagImmutability.namespaceId, namespace.id))
    .orderBy(asc(tagImmutability.repository));
  return {
    namespace: namespace.name,
    immutable: rows.some((r) => r.repository === ""),
    repositories: rows.map((r) => r.repository).filter((r) => r !== ""),
  };
}

const scopeTarget = (scope: string) => ({ target: { name: scope }, messageDetail: scope });

/**
 * container-registry.immutability.set: turn tag immutability on or off for a namespace or
 * one repository of it. Another account's namespace is not found, as an absent one.
 */
export function setImmutability(
  ctx: RegistryContext,
  raw: unknown,
): Promise<ImmutabilitySetting & { changed: boolean }> {
  return runAudited(ctx, {
    action: "container-registry.immutability.set",
    failure: () => [
      {
        ...scopeTarget(safeName(field(raw, "scope"))),
        requestData: { immutable: field(raw, "immutable") === true },
      },
    ],
    execute: async (tx) => {
      const { scope, immutable } = setImmutabilityInput.parse(raw);
      const slash = scope.indexOf("/");
      const ns = await requireNamespace(tx, ctx, slash < 0 ? scope : scope.slice(0, slash));
      const repository = slash < 0 ? "" : scope;
      const changed = immutable
        ? (
            await tx
              .insert(tagImmutability)
              .values({ namespaceId: ns.id, repository, createdAt: nowOf(ctx) })
              .onConflictDoNothing()
              .returning({ repository: tagImmutability.repository })
          ).length > 0
        : (
            await tx
              .delete(tagImmutability)
              .where(
                and(
                  eq(tagImmutability.namespaceId, ns.id),
                  eq(tagImmutability.repository, repository),
                ),
              )
              .returning({ repository: tagImmutability.repository })
          ).length > 0;
      const setting = await settingOf(tx, ns);
      return {
        result: { ...setting, changed },
        records: [
          {
            ...scopeTarget(scope),
            requestData: { immutable },
            responseData: { changed, ...setting },
          },
        ],
      };
    },
  });
}

/** container-registry.immutability.get: where tag immutability is on in a namespace. */
export function getImmutability(ctx: RegistryContext, raw: unknown): Promise<ImmutabilitySetting> {
  return runAuditedRead(ctx, {
    action: "container-registry.immutability.get",
    failure: () => [scopeTarget(safeName(field(raw, "namespace")))],
    read: async (db) => {
      const { namespace } = getImmutabilityInput.parse(raw);
      const ns = await requireNamespace(db, ctx, namespace);
      const setting = await settingOf(db, ns);
      return {
        result: setting,
        records: [
          {
            ...scopeTarget(namespace),
            responseData: { immutable: setting.immutable, repositories: setting.repositories },
          },
        ],
      };
    },
  });
}
