import { namespaceNameSchema } from "@berth/core";
import { manifestReferences, manifests, namespaces, repositories, type Tx, tags } from "@berth/db";
import { count, countDistinct, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { nowOf, type RegistryContext } from "../context";
import { runOnNamed } from "../named-action";
import { storageUsage } from "../quota/usage";
import { moveToTrash, trashPlace } from "../trash/store";
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
  /** Images moved to the trash (an index takes its platform manifests with it). */
  trashed: number;
}

/**
 * Every image of the namespace into the trash before the rows go: each manifest that no
 * index of its repository lists (those travel inside their index's entry).
 */
async function trashNamespaceImages(
  tx: Tx,
  ctx: RegistryContext,
  namespaceId: string,
): Promise<number> {
  const tops = await tx.execute<{ id: string; repository_id: string; name: string }>(sql`
    select m.id, m.repository_id, r.name
      from ${manifests} m join ${repositories} r on r.id = m.repository_id
     where r.namespace_id = ${namespaceId}
       and not exists (
         select 1 from ${manifestReferences} mr join ${manifests} p on p.id = mr.manifest_id
          where p.repository_id = m.repository_id and mr.kind = 'manifest' and mr.digest = m.digest)
     order by r.name, m.created_at`);
  const now = nowOf(ctx);
  for (const m of tops) {
    await moveToTrash(tx, trashPlace(ctx, m.name, m.repository_id), m.id, {
      reason: "namespace.delete",
      now,
      days: ctx.trashDays,
    });
  }
  return tops.length;
}

/**
 * container-registry.namespace.delete: the namespace and everything in it (repositories,
 * manifests, tags, blob links, upload sessions) go in one transaction, its images into the
 * trash (restorable once the namespace is created again, until they expire). Blob files shared
 * with other repositories stay; unreferenced ones are left to garbage collection.
 */
export function deleteNamespace(ctx: RegistryContext, raw: unknown): Promise<DeletedNamespace> {
  return runOnNamed(ctx, raw, "name", {
    action: "container-registry.namespace.delete",
    input: deleteNamespaceInput,
    execute: async (tx, { name }) => {
      const ns = await requireNamespace(tx, ctx, name);
      // Statements asked at once travel together on the transaction's connection (one
      // round trip) and Postgres runs them in the order asked: the counts and the usage
      // before are read before the images move to the trash, as when awaited one by one.
      const [[counts], [tagCount], before, trashed] = await Promise.all([
        tx
          .select({
            repositories: countDistinct(repositories.id),
            images: countDistinct(manifests.id),
          })
          .from(repositories)
          .leftJoin(manifests, eq(manifests.repositoryId, repositories.id))
          .where(eq(repositories.namespaceId, ns.id)),
        tx
          .select({ n: count() })
          .from(tags)
          .innerJoin(repositories, eq(repositories.id, tags.repositoryId))
          .where(eq(repositories.namespaceId, ns.id)),
        storageUsage(tx, ns.accountId, ctx.region),
        trashNamespaceImages(tx, ctx, ns.id),
      ]);
      // Cascades: repositories → manifests, tags, references, blob links, uploads.
      const [, after] = await Promise.all([
        tx.delete(namespaces).where(eq(namespaces.id, ns.id)),
        storageUsage(tx, ns.accountId, ctx.region),
      ]);
      const result: DeletedNamespace = {
        name,
        repositories: Number(counts?.repositories ?? 0),
        images: Number(counts?.images ?? 0),
        tags: Number(tagCount?.n ?? 0),
        releasedBytes: before - after,
        trashed,
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
              trashed,
            },
          },
        ],
      };
    },
  });
}
