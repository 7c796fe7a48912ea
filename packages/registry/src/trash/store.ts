import type { DbOrTx, TrashedManifest } from "@berth/db";
import { manifestReferences, manifests, tags, trashBlobs, trashEntries } from "@berth/db";
import { and, eq, inArray } from "drizzle-orm";
import { v7 as uuidv7 } from "uuid";
import { accountId, type RegistryContext } from "../context";

/** How long a deleted image stays in the trash unless the context says otherwise. */
export const DEFAULT_TRASH_DAYS = 30;
const DAY_MS = 86_400_000;

/** Why an image went to the trash: the action that removed it. */
export type TrashReason =
  | "image.rm"
  | "image.delete"
  | "namespace.delete"
  | "image.bulkdelete"
  | "image.prune-untagged"
  | "retention.run";

export interface TrashPlace {
  accountId: string;
  region: string;
  namespace: string;
  repository: string;
  repositoryId: string;
}

/** Where an image of the caller's repository goes in the trash. */
export function trashPlace(
  ctx: RegistryContext,
  repository: string,
  repositoryId: string,
): TrashPlace {
  return {
    accountId: accountId(ctx),
    region: ctx.region,
    namespace: repository.slice(0, repository.indexOf("/")),
    repository,
    repositoryId,
  };
}

async function snapshotOf(
  tx: DbOrTx,
  repositoryId: string,
  where: { id: string } | { digest: string },
): Promise<(TrashedManifest & { id: string }) | undefined> {
  const [row] = await tx
    .select()
    .from(manifests)
    .where(
      "id" in where
        ? eq(manifests.id, where.id)
        : and(eq(manifests.repositoryId, repositoryId), eq(manifests.digest, where.digest)),
    );
  if (!row) return undefined;
  const refs = await tx
    .select({
      digest: manifestReferences.digest,
      kind: manifestReferences.kind,
      size: manifestReferences.size,
    })
    .from(manifestReferences)
    .where(eq(manifestReferences.manifestId, row.id));
  const tagRows = await tx
    .select({ name: tags.name })
    .from(tags)
    .where(eq(tags.manifestId, row.id));
  return {
    id: row.id,
    digest: row.digest,
    mediaType: row.mediaType,
    size: row.size,
    content: row.content.toString("base64"),
    configDigest: row.configDigest,
    artifactType: row.artifactType,
    subjectDigest: row.subjectDigest,
    references: refs,
    tags: tagRows.map((t) => t.name).sort(),
  };
}

/**
 * Copy a manifest (and, for an index, the child manifests of its repository) into the
 * trash before its rows are deleted, in the caller's transaction. Its blobs stay referenced
 * by the entry, so GC keeps them and storage usage still counts them.
 */
export async function moveToTrash(
  tx: DbOrTx,
  place: TrashPlace,
  manifestId: string,
  opts: { reason: TrashReason; now: Date; days?: number },
): Promise<{ entryId: string; digest: string; tags: string[]; expiresAt: Date }> {
  const top = await snapshotOf(tx, place.repositoryId, { id: manifestId });
  if (!top) throw new Error(`manifest ${manifestId} vanished before going to the trash`);
  const children: TrashedManifest[] = [];
  for (const ref of top.references.filter((r) => r.kind === "manifest")) {
    const child = await snapshotOf(tx, place.repositoryId, { digest: ref.digest });
    if (child) {
      const { id: _id, ...rest } = child;
      children.push(rest);
    }
  }
  const entryId = uuidv7();
  const expiresAt = new Date(opts.now.getTime() + (opts.days ?? DEFAULT_TRASH_DAYS) * DAY_MS);
  const { id: _id, content, ...manifest } = top;
  await tx.insert(trashEntries).values({
    id: entryId,
    accountId: place.accountId,
    region: place.region,
    namespace: place.namespace,
    repository: place.repository,
    digest: top.digest,
    mediaType: top.mediaType,
    size: top.size,
    content: Buffer.from(content, "base64"),
    snapshot: { manifest, children },
    tags: top.tags,
    reason: opts.reason,
    deletedAt: opts.now,
    expiresAt,
  });
  const blobDigests = new Set<string>();
  for (const m of [top, ...children]) {
    for (const r of m.references) if (r.kind !== "manifest") blobDigests.add(r.digest);
  }
  if (blobDigests.size > 0) {
    await tx
      .insert(trashBlobs)
      .values([...blobDigests].map((digest) => ({ entryId, digest })))
      .onConflictDoNothing();
  }
  return { entryId, digest: top.digest, tags: top.tags, expiresAt };
}

/** Entries of an account and region by id (others' ids are simply not found). */
export async function trashEntriesById(
  tx: DbOrTx,
  accountId: string,
  region: string,
  ids: string[],
) {
  if (ids.length === 0) return [];
  return tx
    .select({
      id: trashEntries.id,
      repository: trashEntries.repository,
      digest: trashEntries.digest,
    })
    .from(trashEntries)
    .where(
      and(
        eq(trashEntries.accountId, accountId),
        eq(trashEntries.region, region),
        inArray(trashEntries.id, ids),
      ),
    );
}
