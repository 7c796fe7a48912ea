import { parseImageReference } from "@berth/core";
import type { DbOrTx, TrashedManifest } from "@berth/db";
import { manifestReferences, manifests, tags, trashEntries } from "@berth/db";
import { and, desc, eq, sql } from "drizzle-orm";
import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import { field, runAudited } from "../audit";
import { accountId, nowOf, type RegistryContext } from "../context";
import { conflict, notFound } from "../errors";
import { ensureRepository, holdBlobsAgainstGc, linkBlobs } from "../images/records";
import { imageTarget, rawImageName } from "../images/resolve";
import { requireNamespace } from "../namespaces/lookup";

export const restoreImageInput = z.object({
  /** "ns/repo@digest" or "ns/repo:tag" (the tag it had when it was deleted). */
  image: z.string().min(1).max(512),
});
export type RestoreImageInput = z.input<typeof restoreImageInput>;

export interface RestoredImage {
  image: string;
  digest: string;
  /** Tags put back. */
  tags: string[];
  /** Tags it had that now point at another image: left where they are. */
  tagsKept: string[];
}

/**
 * container-registry.image.restore: put a deleted image back from the trash, byte for byte,
 * with its tags. By tag, it is refused when that tag now points at another image (restoring
 * would move it); by digest it always works, and such tags are left alone.
 */
export function restoreImage(ctx: RegistryContext, raw: unknown): Promise<RestoredImage> {
  const name = rawImageName(field(raw, "image"));
  return runAudited(ctx, {
    action: "container-registry.image.restore",
    failure: () => [{ target: imageTarget(name), messageDetail: name }],
    execute: async (tx) => {
      const { image } = restoreImageInput.parse(raw);
      const ref = parseImageReference(image);
      const ns = await requireNamespace(tx, ctx, ref.namespace);
      const [entry] = await tx
        .select()
        .from(trashEntries)
        .where(
          and(
            eq(trashEntries.accountId, accountId(ctx)),
            eq(trashEntries.region, ctx.region),
            eq(trashEntries.repository, ref.repository),
            ref.digest
              ? eq(trashEntries.digest, ref.digest)
              : sql`${trashEntries.tags} @> ${JSON.stringify([ref.tag])}::jsonb`,
          ),
        )
        .orderBy(desc(trashEntries.deletedAt))
        .limit(1)
        .for("update");
      if (!entry) {
        throw notFound(`image ${ref.text} is not in the trash of region ${ctx.region}`);
      }
      await holdBlobsAgainstGc(tx);
      const repositoryId = await ensureRepository(tx, ns.id, ref.repository);
      const current = await currentTags(tx, repositoryId, entry.tags);
      if (!ref.digest) {
        const elsewhere = current.get(ref.tag!);
        if (elsewhere !== undefined && elsewhere !== entry.digest) {
          throw conflict(
            `tag ${ref.text} now points at ${elsewhere}; restore ${ref.repository}@${entry.digest} by digest to get the deleted image back without moving the tag`,
          );
        }
      }
      const now = nowOf(ctx);
      const { manifest, children } = entry.snapshot;
      for (const child of children) {
        await putBack(tx, repositoryId, child, Buffer.from(child.content, "base64"), now);
      }
      const restored = await putBack(tx, repositoryId, manifest, entry.content, now);
      const tagsKept = entry.tags.filter((t) => current.has(t) && current.get(t) !== entry.digest);
      await tx.delete(trashEntries).where(eq(trashEntries.id, entry.id));
      const restoredTags = restored.tags;
      const text = ref.digest ? ref.text : `${ref.repository}:${ref.tag}`;
      return {
        result: { image: text, digest: entry.digest, tags: restoredTags, tagsKept },
        records: [
          {
            target: imageTarget(text, ref.repository, entry.digest),
            messageDetail: text,
            requestData: { image: ref.text },
            responseData: {
              digest: entry.digest,
              tags: restoredTags,
              tagsKept,
              deletedBy: entry.reason,
            },
          },
        ],
      };
    },
  });
}

async function currentTags(
  tx: DbOrTx,
  repositoryId: string,
  names: string[],
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (names.length === 0) return out;
  const rows = await tx
    .select({ name: tags.name, digest: manifests.digest })
    .from(tags)
    .innerJoin(manifests, eq(manifests.id, tags.manifestId))
    .where(eq(tags.repositoryId, repositoryId));
  for (const r of rows) if (names.includes(r.name)) out.set(r.name, r.digest);
  return out;
}

/**
 * The manifest's rows again (unless the repository has it: pushed again meanwhile), its
 * blob links, and each of its tags that is free. Returns the tags set.
 */
async function putBack(
  tx: DbOrTx,
  repositoryId: string,
  m: Omit<TrashedManifest, "content">,
  content: Buffer,
  now: Date,
): Promise<{ tags: string[] }> {
  const [existing] = await tx
    .select({ id: manifests.id })
    .from(manifests)
    .where(and(eq(manifests.repositoryId, repositoryId), eq(manifests.digest, m.digest)));
  let id = existing?.id;
  if (!id) {
    id = uuidv7();
    await tx.insert(manifests).values({
      id,
      repositoryId,
      digest: m.digest,
      mediaType: m.mediaType,
      size: m.size,
      content,
      configDigest: m.configDigest,
      artifactType: m.artifactType,
      subjectDigest: m.subjectDigest,
    });
    if (m.references.length > 0) {
      await tx
        .insert(manifestReferences)
        .values(m.references.map((r) => ({ manifestId: id!, ...r })))
        .onConflictDoNothing();
    }
  }
  await linkBlobs(
    tx,
    repositoryId,
    m.references.filter((r) => r.kind !== "manifest").map((r) => r.digest),
  );
  const set: string[] = [];
  for (const tag of m.tags) {
    const inserted = await tx
      .insert(tags)
      .values({ repositoryId, name: tag, manifestId: id, updatedAt: now })
      .onConflictDoNothing()
      .returning({ name: tags.name });
    if (inserted.length > 0) set.push(tag);
  }
  return { tags: set };
}
