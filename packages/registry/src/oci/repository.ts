import {
  digestProblem,
  parseRepositoryName,
  type RepositoryName,
  repositoryNameProblem,
  tagProblem,
} from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { namespaces, repositories } from "@berth/db";
import { and, eq } from "drizzle-orm";
import { safeName } from "../audit";
import type { RegistryContext } from "../context";
import { callersNamespace } from "../namespaces/lookup";
import { OciFailure } from "./errors";

/** A repository name from a URL, or NAME_INVALID. */
export function ociRepositoryName(raw: string): RepositoryName {
  const problem = repositoryNameProblem(raw);
  if (problem) throw new OciFailure("NAME_INVALID", problem);
  return parseRepositoryName(raw);
}

/** A digest from a URL or query parameter, or DIGEST_INVALID. */
export function ociDigest(raw: string | undefined): string {
  if (raw === undefined) throw new OciFailure("DIGEST_INVALID", "the digest parameter is missing");
  const problem = digestProblem(raw);
  if (problem) throw new OciFailure("DIGEST_INVALID", problem);
  return raw;
}

/** A manifest reference from a URL: a digest (has ":") or a tag. */
export type ManifestRef = { tag: string; digest?: undefined } | { digest: string; tag?: undefined };

export function ociManifestRef(raw: string): ManifestRef {
  if (raw.includes(":")) return { digest: ociDigest(raw) };
  const problem = tagProblem(raw);
  if (problem) throw new OciFailure("MANIFEST_INVALID", problem);
  return { tag: raw };
}

/** `ns/repo:tag` or `ns/repo@digest`, as requested; usable as an event target even when invalid. */
export function requestedImageName(repository: string, reference: string): string {
  const separator = reference.includes(":") ? "@" : ":";
  return safeName(`${repository}${separator}${reference}`);
}

export interface RepositoryRow {
  namespaceId: string;
  /** Null when the namespace is the caller's but holds no repository of that name yet. */
  repositoryId: string | null;
}

/**
 * The caller's namespace of a repository name in this region, and the repository when it
 * exists. Null when the namespace does not exist or is another account's: both get the
 * same answer, so other tenants' names cannot be probed.
 */
export async function findRepository(
  tx: DbOrTx,
  ctx: RegistryContext,
  name: RepositoryName,
): Promise<RepositoryRow | null> {
  const rows = await tx
    .select({ namespaceId: namespaces.id, repositoryId: repositories.id })
    .from(namespaces)
    .leftJoin(
      repositories,
      and(eq(repositories.namespaceId, namespaces.id), eq(repositories.name, name.name)),
    )
    .where(callersNamespace(ctx, name.namespace))
    .limit(1);
  return rows[0] ?? null;
}

/** The repository to read from, or NAME_UNKNOWN. */
export async function readableRepository(
  tx: DbOrTx,
  ctx: RegistryContext,
  name: RepositoryName,
): Promise<{ namespaceId: string; repositoryId: string }> {
  const row = await findRepository(tx, ctx, name);
  if (!row?.repositoryId) {
    throw new OciFailure(
      "NAME_UNKNOWN",
      `repository ${name.name} is not known in region ${ctx.region}`,
    );
  }
  return { namespaceId: row.namespaceId, repositoryId: row.repositoryId };
}

/** The namespace to push into: the caller's, else DENIED (whether absent or someone else's). */
export async function writableNamespace(
  tx: DbOrTx,
  ctx: RegistryContext,
  name: RepositoryName,
): Promise<RepositoryRow> {
  const row = await findRepository(tx, ctx, name);
  if (!row) throw notYourNamespace(ctx, name);
  return row;
}

/** The refusal of a push into a namespace that is not the caller's (absent or another account's). */
export function notYourNamespace(ctx: RegistryContext, name: RepositoryName): OciFailure {
  return new OciFailure(
    "DENIED",
    `requested access to the resource is denied: namespace ${name.namespace} is not a namespace of your account in region ${ctx.region}; create it first`,
  );
}
