import { createHash } from "node:crypto";
import type { DbOrTx } from "@berth/db";
import { manifests, tagImmutability, tags } from "@berth/db";
import { and, eq, inArray, sql } from "drizzle-orm";
import { conflict } from "../errors";

/*
 * Tag immutability (as Harbor has it): where it is on (a whole namespace, or one of its
 * repositories), an existing tag keeps pointing at the image it names. Pushing a new tag,
 * or the same image to the same tag, still works; moving or removing one is refused.
 * These checks run inside the use case's transaction, before anything is written.
 */

/** Advisory-lock class (two-key form) of "a tag of an immutable repository is being set". */
const TAG_LOCK_CLASS = 0x62746167;

/** The scope that makes a repository's tags immutable: `ns` or `ns/repo`, or null. */
export async function immutabilityScope(
  tx: DbOrTx,
  namespaceId: string,
  repository: string,
): Promise<string | null> {
  const rows = await tx
    .select({ repository: tagImmutability.repository })
    .from(tagImmutability)
    .where(
      and(
        eq(tagImmutability.namespaceId, namespaceId),
        inArray(tagImmutability.repository, ["", repository]),
      ),
    );
  if (rows.length === 0) return null;
  return rows.some((r) => r.repository === "")
    ? `namespace ${repository.slice(0, repository.indexOf("/"))}`
    : `repository ${repository}`;
}

export interface TagMove {
  namespaceId: string;
  /** Full repository name, "ns/repo". */
  repository: string;
  repositoryId: string;
  tag: string;
  /** The digest the tag is about to name. */
  digest: string;
}

/**
 * Refuse (409) pointing an existing tag of an immutable repository at another image. In an
 * immutable repository two concurrent first pushes of the same tag are serialised, so the
 * second sees the first's tag and is refused if its image differs.
 */
export async function refuseTagMove(tx: DbOrTx, move: TagMove): Promise<void> {
  const scope = await immutabilityScope(tx, move.namespaceId, move.repository);
  if (!scope) return;
  await tx.execute(
    sql`select pg_advisory_xact_lock(${TAG_LOCK_CLASS}, hashtext(${`${move.repositoryId}:${move.tag}`}))`,
  );
  const [current] = await tx
    .select({ digest: manifests.digest })
    .from(tags)
    .innerJoin(manifests, eq(manifests.id, tags.manifestId))
    .where(and(eq(tags.repositoryId, move.repositoryId), eq(tags.name, move.tag)));
  if (current && current.digest !== move.digest) {
    throw conflict(
      `tag ${move.repository}:${move.tag} is immutable (tag immutability is on for ${scope}): it points at ${current.digest} and cannot be moved to ${move.digest}; use a new tag`,
    );
  }
}

function removalRefused(repository: string, tagNames: readonly string[], scope: string) {
  const one = tagNames.length === 1;
  const named = tagNames.map((t) => `${repository}:${t}`).join(", ");
  return conflict(
    `${one ? "tag" : "tags"} ${named} ${one ? "is" : "are"} immutable (tag immutability is on for ${scope}) and cannot be removed`,
  );
}

/** Refuse (409) removing any of these existing tags of an immutable repository. */
export async function refuseTagRemoval(
  tx: DbOrTx,
  namespaceId: string,
  repository: string,
  tagNames: readonly string[],
): Promise<void> {
  if (tagNames.length === 0) return;
  const scope = await immutabilityScope(tx, namespaceId, repository);
  if (scope) throw removalRefused(repository, tagNames, scope);
}

/** Refuse (409) deleting a manifest that still has tags in an immutable repository. */
export async function refuseRemovingTagsOf(
  tx: DbOrTx,
  namespaceId: string,
  repository: string,
  manifestId: string,
): Promise<void> {
  const scope = await immutabilityScope(tx, namespaceId, repository);
  if (!scope) return;
  const rows = await tx
    .select({ name: tags.name })
    .from(tags)
    .where(eq(tags.manifestId, manifestId))
    .orderBy(tags.name);
  if (rows.length > 0) {
    throw removalRefused(
      repository,
      rows.map((r) => r.name),
      scope,
    );
  }
}

/**
 * The manifest PUT by tag: refuse when it would move an existing immutable tag. A tag
 * reference has no digest of its own, so the manifest is named by the sha256 of its bytes,
 * as the registry stores it; the same bytes again are no move.
 */
export function refusePushMovingTag(
  tx: DbOrTx,
  push: Omit<TagMove, "digest"> & { body: Uint8Array },
): Promise<void> {
  const { body, ...rest } = push;
  const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
  return refuseTagMove(tx, { ...rest, digest });
}
