import { namespaceNameSchema } from "@berth/core";
import { manifests, namespaces, repositories, tags } from "@berth/db";
import { count, countDistinct, eq } from "drizzle-orm";
import { z } from "zod";
import { field, runAudited, safeName } from "../audit";
import type { RegistryContext } from "../context";
import { storageUsage } from "../quota/usage";
import { requireNamespace } from "./lookup";

export const deleteNamespaceInput = z.object({ name: namespaceNameSchema });
export type DeleteNamespaceInput = z.input<typeof deleteNamespaceInput>;

export interface DeletedNamespace {
  name: string;
  repositories: number;
  images: number;
  tags: number;
  /** Storage usage of the account in the region that the deletion released. */
  releasedBytes: number;
}

/**
 * container-registry.namespace.delete: the namespace and everything in it (repositories,
 * manifests, tags, blob links, upload sessions) go in one transaction. Blob files shared
 * with other repositories stay; unreferenced ones are left to garbage collection.
 */
export function deleteNamespace(ctx: RegistryContext, raw: unknown): Promise<DeletedNamespace> {
  const rawName = safeName(field(raw, "name"));
  return runAudited(ctx, {
    action: "container-registry.namespace.delete",
    failure: () => [{ target: { name: rawName }, messageDetail: rawName }],
    execute: async (tx) => {
      const { name } = deleteNamespaceInput.parse(raw);
      const ns = await requireNamespace(tx, ctx, name);
      const [counts] = await tx
        .select({
          repositories: countDistinct(repositories.id),
          images: countDistinct(manifests.id),
        })
        .from(repositories)
        .leftJoin(manifests, eq(manifests.repositoryId, repositories.id))
        .where(eq(repositories.namespaceId, ns.id));
      const [tagCount] = await tx
        .select({ n: count() })
        .from(tags)
        .innerJoin(repositories, eq(repositories.id, tags.repositoryId))
        .where(eq(repositories.namespaceId, ns.id));
      const before = await storageUsage(tx, ns.accountId, ctx.region);
      // Cascades: repositories → manifests, tags, references, blob links, uploads.
      await tx.delete(namespaces).where(eq(namespaces.id, ns.id));
      const after = await storageUsage(tx, ns.accountId, ctx.region);
      const result: DeletedNamespace = {
        name,
        repositories: Number(counts?.repositories ?? 0),
        images: Number(counts?.images ?? 0),
        tags: Number(tagCount?.n ?? 0),
        releasedBytes: before - after,
      };
      return {
        result,
        records: [
          {
            target: { name },
            messageDetail: name,
            requestData: { namespace: name },
            responseData: {
              repositories: result.repositories,
              images: result.images,
              releasedBytes: result.releasedBytes,
            },
          },
        ],
      };
    },
  });
}
