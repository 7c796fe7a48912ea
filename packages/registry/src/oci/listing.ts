import { MEDIA_TYPES } from "@berth/core";
import { manifests, namespaces, repositories, tags } from "@berth/db";
import { and, asc, eq, exists, gt, sql } from "drizzle-orm";
import { accountId, type RegistryContext } from "../context";
import { OciFailure, ociFailureOf } from "./errors";
import { ociDigest, ociRepositoryName, readableRepository } from "./repository";

/** Largest page a client may ask for; without `n` it gets the whole list up to this. */
export const MAX_PAGE = 1000;

export interface Page {
  n?: number;
  last?: string;
}

function pageSize(n: number | undefined): number {
  if (n === undefined) return MAX_PAGE;
  if (!Number.isInteger(n) || n < 0) {
    throw new OciFailure("UNSUPPORTED", "n must be a whole number", 400);
  }
  return Math.min(n, MAX_PAGE);
}

/** Names sorted bytewise (as the spec's "lexical" order), so `last` pages deterministically. */
const bytewise = (column: unknown) => sql`${column} collate "C"`;

export interface TagList {
  name: string;
  tags: string[];
  /** Set when there may be more: the `last` of the next page. */
  next?: string;
}

/** Tags of a repository, `n` at a time after `last`. */
export async function listTags(
  ctx: RegistryContext,
  input: { repository: string } & Page,
): Promise<TagList> {
  try {
    const name = ociRepositoryName(input.repository);
    const limit = pageSize(input.n);
    const { repositoryId } = await readableRepository(ctx.db, ctx, name);
    if (limit === 0) return { name: name.name, tags: [] };
    const rows = await ctx.db
      .select({ name: tags.name })
      .from(tags)
      .where(
        and(
          eq(tags.repositoryId, repositoryId),
          input.last !== undefined ? gt(bytewise(tags.name), input.last) : undefined,
        ),
      )
      .orderBy(asc(bytewise(tags.name)))
      .limit(limit + 1);
    const page = rows.slice(0, limit).map((r) => r.name);
    return {
      name: name.name,
      tags: page,
      ...(rows.length > limit ? { next: page[page.length - 1]! } : {}),
    };
  } catch (error) {
    throw ociFailureOf(error);
  }
}

export interface Catalog {
  repositories: string[];
  next?: string;
}

/** The caller's repositories in this region that hold at least one manifest. */
export async function listCatalog(ctx: RegistryContext, input: Page): Promise<Catalog> {
  try {
    const limit = pageSize(input.n);
    if (limit === 0) return { repositories: [] };
    const rows = await ctx.db
      .select({ name: repositories.name })
      .from(repositories)
      .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId))
      .where(
        and(
          eq(namespaces.accountId, accountId(ctx)),
          eq(namespaces.region, ctx.region),
          exists(
            ctx.db
              .select({ one: sql`1` })
              .from(manifests)
              .where(eq(manifests.repositoryId, repositories.id)),
          ),
          input.last !== undefined ? gt(bytewise(repositories.name), input.last) : undefined,
        ),
      )
      .orderBy(asc(bytewise(repositories.name)))
      .limit(limit + 1);
    const page = rows.slice(0, limit).map((r) => r.name);
    return {
      repositories: page,
      ...(rows.length > limit ? { next: page[page.length - 1]! } : {}),
    };
  } catch (error) {
    throw ociFailureOf(error);
  }
}

export interface ReferrersIndex {
  schemaVersion: 2;
  mediaType: typeof MEDIA_TYPES.ociIndex;
  manifests: {
    mediaType: string;
    digest: string;
    size: number;
    artifactType?: string;
    annotations?: Record<string, string>;
  }[];
}

/**
 * The referrers API: an index of the manifests of the repository whose `subject` is
 * `digest`, optionally only those of one artifact type. The subject itself need not exist.
 */
export async function listReferrers(
  ctx: RegistryContext,
  input: { repository: string; digest: string; artifactType?: string },
): Promise<{ index: ReferrersIndex; filtered: boolean }> {
  try {
    const name = ociRepositoryName(input.repository);
    ociDigest(input.digest);
    const { repositoryId } = await readableRepository(ctx.db, ctx, name);
    const rows = await ctx.db
      .select({
        digest: manifests.digest,
        mediaType: manifests.mediaType,
        size: manifests.size,
        artifactType: manifests.artifactType,
        content: manifests.content,
      })
      .from(manifests)
      .where(
        and(
          eq(manifests.repositoryId, repositoryId),
          eq(manifests.subjectDigest, input.digest),
          input.artifactType !== undefined
            ? eq(manifests.artifactType, input.artifactType)
            : undefined,
        ),
      )
      .orderBy(asc(manifests.createdAt), asc(manifests.digest));
    return {
      index: {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociIndex,
        manifests: rows.map((r) => {
          const annotations = annotationsOf(r.content);
          return {
            mediaType: r.mediaType,
            digest: r.digest,
            size: r.size,
            ...(r.artifactType ? { artifactType: r.artifactType } : {}),
            ...(annotations ? { annotations } : {}),
          };
        }),
      },
      filtered: input.artifactType !== undefined,
    };
  } catch (error) {
    throw ociFailureOf(error);
  }
}

function annotationsOf(content: Buffer): Record<string, string> | undefined {
  try {
    const json = JSON.parse(content.toString("utf8")) as { annotations?: unknown };
    const a = json.annotations;
    if (a && typeof a === "object" && !Array.isArray(a)) return a as Record<string, string>;
  } catch {
    // Stored manifests were valid JSON when pushed; nothing to add if not.
  }
  return undefined;
}
