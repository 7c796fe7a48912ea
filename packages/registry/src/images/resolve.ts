import { type ImageReference, parseImageReference } from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { manifests, repositories, tags } from "@berth/db";
import { and, eq } from "drizzle-orm";
import type { EventTarget } from "../audit";
import { safeName } from "../audit";
import type { RegistryContext } from "../context";
import { notFound } from "../errors";
import { type NamespaceRow, requireNamespace } from "../namespaces/lookup";

/** A manifest row without its content. */
export const manifestSummary = {
  id: manifests.id,
  repositoryId: manifests.repositoryId,
  digest: manifests.digest,
  mediaType: manifests.mediaType,
  size: manifests.size,
  configDigest: manifests.configDigest,
  createdAt: manifests.createdAt,
};
export interface ManifestSummary {
  id: string;
  repositoryId: string;
  digest: string;
  mediaType: string;
  size: number;
  configDigest: string | null;
  createdAt: Date;
}

export interface ResolvedImage {
  ref: ImageReference;
  namespace: NamespaceRow;
  repositoryId: string;
  manifest: ManifestSummary;
}

/** The repository of a name in the caller's namespace, or NOT_FOUND. */
export async function requireRepository(
  tx: DbOrTx,
  ctx: RegistryContext,
  name: string,
): Promise<{ namespace: NamespaceRow; repositoryId: string }> {
  const namespace = await requireNamespace(tx, ctx, name.slice(0, name.indexOf("/")));
  const [repo] = await tx
    .select({ id: repositories.id })
    .from(repositories)
    .where(and(eq(repositories.namespaceId, namespace.id), eq(repositories.name, name)));
  if (!repo) {
    throw notFound(`repository ${name} was not found in region ${ctx.region}`, "NAME_UNKNOWN");
  }
  return { namespace, repositoryId: repo.id };
}

/**
 * The manifest an image reference names in the caller's account and region: by digest
 * when it has one, else by tag. Anything missing, or another account's, is NOT_FOUND.
 */
export async function resolveImage(
  tx: DbOrTx,
  ctx: RegistryContext,
  ref: ImageReference,
): Promise<ResolvedImage> {
  const { namespace, repositoryId } = await requireRepository(tx, ctx, ref.repository);
  const rows = ref.digest
    ? await tx
        .select(manifestSummary)
        .from(manifests)
        .where(and(eq(manifests.repositoryId, repositoryId), eq(manifests.digest, ref.digest)))
    : await tx
        .select(manifestSummary)
        .from(tags)
        .innerJoin(manifests, eq(manifests.id, tags.manifestId))
        .where(and(eq(tags.repositoryId, repositoryId), eq(tags.name, ref.tag!)));
  const manifest = rows[0];
  if (!manifest) {
    throw notFound(`image ${ref.text} was not found in region ${ctx.region}`, "MANIFEST_UNKNOWN");
  }
  return { ref, namespace, repositoryId, manifest };
}

/** The event target of an image: named as requested, identified by digest once known. */
export function imageTarget(name: string, repository?: string, digest?: string): EventTarget {
  return {
    name,
    ...(repository !== undefined && digest !== undefined
      ? { crnName: `${repository}@${digest}` }
      : {}),
  };
}

/** Best-effort target name of an image reference from raw input (canonical when it parses). */
export function rawImageName(raw: unknown, defaultTag: string | null = "latest"): string {
  if (typeof raw !== "string") return safeName(raw);
  try {
    return parseImageReference(raw, { defaultTag }).text;
  } catch {
    return safeName(raw);
  }
}
