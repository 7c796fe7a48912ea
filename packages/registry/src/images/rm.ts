import { parseImageReference } from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { manifestReferences, manifests, repositoryBlobs, tags } from "@berth/db";
import { and, eq, inArray, notInArray, sql } from "drizzle-orm";
import { z } from "zod";
import { type AuditRecord, field, runAudited } from "../audit";
import { type BulkOutcome, BulkRecorder, MAX_BULK } from "../bulk";
import { nowOf, type RegistryContext } from "../context";
import { conflict } from "../errors";
import { refuseRemovingTagsOf } from "../lifecycle/immutability";
import { moveToTrash, trashPlace } from "../trash/store";
import { manifestsReferencing } from "./records";
import { imageTarget, rawImageName, resolveImage } from "./resolve";
import { bulkImageFailures } from "./untag";

export const removeImagesInput = z.object({
  /** "ns/repo:tag" or "ns/repo@digest" each; no tag means latest. */
  images: z.array(z.string()).min(1, "give at least one image").max(MAX_BULK),
});
export type RemoveImagesInput = z.input<typeof removeImagesInput>;

export interface RemoveResult {
  removed: { image: string; digest: string; tags: string[] }[];
  results: BulkOutcome[];
}

/**
 * container-registry.image.rm: delete each image's manifest from its repository, with all
 * of its tags there, into the trash (restorable until it expires); copies in other
 * repositories stay. One event per image, and one per
 * untagged platform manifest an index takes with it.
 */
export function removeImages(ctx: RegistryContext, raw: unknown): Promise<RemoveResult> {
  return runAudited(ctx, {
    action: "container-registry.image.rm",
    failure: () => bulkImageFailures(field(raw, "images"), "latest"),
    execute: async (tx) => {
      const { images } = removeImagesInput.parse(raw);
      return trashImages(tx, ctx, images, "image.rm");
    },
  });
}

/**
 * The work of image.rm and image.bulkdelete: each image into the trash, one record per
 * image (and per untagged platform manifest an index takes with it). An image's own
 * refusal (not found, listed by an index, immutable tags) is its failure record; the
 * others go on.
 */
export async function trashImages(
  tx: DbOrTx,
  ctx: RegistryContext,
  images: readonly string[],
  reason: "image.rm" | "image.bulkdelete",
): Promise<{ result: RemoveResult; records: AuditRecord[] }> {
  const bulk = new BulkRecorder();
  const removed: RemoveResult["removed"] = [];
  const deleted = new Set<string>();
  for (const given of new Set(images)) {
    const name = rawImageName(given);
    try {
      const ref = parseImageReference(given);
      const { manifest, repositoryId, namespace } = await resolveImage(tx, ctx, ref);
      let tagNames: string[] = [];
      let children: string[] = [];
      let trashedUntil: string | undefined;
      if (!deleted.has(manifest.id)) {
        await refuseIfReferenced(tx, repositoryId, manifest.id, manifest.digest);
        await refuseRemovingTagsOf(tx, namespace.id, ref.repository, manifest.id);
        const trashed = await moveToTrash(
          tx,
          trashPlace(ctx, ref.repository, repositoryId),
          manifest.id,
          { reason, now: nowOf(ctx), days: ctx.trashDays },
        );
        trashedUntil = trashed.expiresAt.toISOString();
        const rows = await deleteManifest(tx, repositoryId, manifest.id, { unlinkBlobs: true });
        tagNames = rows.tags;
        children = rows.children;
        deleted.add(manifest.id);
      }
      removed.push({ image: ref.text, digest: manifest.digest, tags: tagNames });
      bulk.ok(given, {
        target: imageTarget(ref.text, ref.repository, manifest.digest),
        messageDetail: ref.text,
        responseData: {
          digest: manifest.digest,
          tags: tagNames,
          ...(trashedUntil ? { trashedUntil } : {}),
        },
      });
      bulk.records.push(...childRecords(ref.repository, manifest.digest, children));
    } catch (thrown) {
      bulk.fail(given, { name }, thrown, name);
    }
  }
  return { result: { removed, results: bulk.results }, records: bulk.records };
}

/** An index's untagged platform manifests went with it: one record each. */
export function childRecords(
  repository: string,
  index: string,
  children: readonly string[],
): AuditRecord[] {
  return children.map((child) => {
    const childName = `${repository}@${child}`;
    return {
      target: imageTarget(childName, repository, child),
      messageDetail: childName,
      responseData: { digest: child, index },
    };
  });
}

/** An index in the repository still lists this manifest: removing it would break the index. */
async function refuseIfReferenced(
  tx: DbOrTx,
  repositoryId: string,
  manifestId: string,
  digest: string,
): Promise<void> {
  const [parent] = await manifestsReferencing(tx, repositoryId, [digest], {
    kind: "manifest",
    except: manifestId,
    limit: 1,
  });
  if (parent) {
    throw conflict(
      `image ${digest} is part of the multi-platform image ${parent.manifest}; remove that first`,
    );
  }
}

export interface DeletedManifestRows {
  /** Tags that pointed at the manifest. */
  tags: string[];
  /** Digests of the untagged child manifests deleted with an index. */
  children: string[];
}

/**
 * Delete a manifest (its tags and references cascade), then its untagged children that
 * nothing else in the repository references. With `unlinkBlobs` (image.rm, which frees
 * storage) the repository's links to blobs of the deleted manifests that no remaining
 * manifest references go too, so blobs uploaded for a push in progress keep theirs;
 * without (the OCI DELETE, as distribution) every link stays until the blob is deleted or
 * collected.
 */
export async function deleteManifest(
  tx: DbOrTx,
  repositoryId: string,
  manifestId: string,
  opts: { unlinkBlobs: boolean },
): Promise<DeletedManifestRows> {
  const tagRows = await tx
    .select({ name: tags.name })
    .from(tags)
    .where(eq(tags.manifestId, manifestId));
  const refs = await tx
    .select({ digest: manifestReferences.digest, kind: manifestReferences.kind })
    .from(manifestReferences)
    .where(eq(manifestReferences.manifestId, manifestId));
  await tx.delete(manifests).where(eq(manifests.id, manifestId));
  const blobDigests = new Set(refs.filter((r) => r.kind !== "manifest").map((r) => r.digest));
  const children: string[] = [];
  for (const child of refs.filter((r) => r.kind === "manifest")) {
    // Another index of the repository still lists the child: it stays.
    const listed = await manifestsReferencing(tx, repositoryId, [child.digest], {
      kind: "manifest",
      limit: 1,
    });
    if (listed.length > 0) continue;
    const [row] = await tx
      .select({ id: manifests.id })
      .from(manifests)
      .where(
        and(
          eq(manifests.repositoryId, repositoryId),
          eq(manifests.digest, child.digest),
          sql`not exists (select 1 from ${tags} where ${tags.manifestId} = ${manifests.id})`,
        ),
      );
    if (row) {
      const childRefs = await tx
        .select({ digest: manifestReferences.digest, kind: manifestReferences.kind })
        .from(manifestReferences)
        .where(eq(manifestReferences.manifestId, row.id));
      for (const r of childRefs) if (r.kind !== "manifest") blobDigests.add(r.digest);
      await tx.delete(manifests).where(eq(manifests.id, row.id));
      children.push(child.digest);
    }
  }
  if (opts.unlinkBlobs && blobDigests.size > 0) {
    const stillUsed = await manifestsReferencing(tx, repositoryId, [...blobDigests]);
    const used = stillUsed.map((u) => u.referenced);
    await tx
      .delete(repositoryBlobs)
      .where(
        and(
          eq(repositoryBlobs.repositoryId, repositoryId),
          inArray(repositoryBlobs.digest, [...blobDigests]),
          used.length > 0 ? notInArray(repositoryBlobs.digest, used) : undefined,
        ),
      );
  }
  return { tags: tagRows.map((t) => t.name), children };
}
