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
    throw new OciFailure("PAGINATION_NUMBER_INVALID", "n must be a whole number");
  }
  return Math.min(n, MAX_PAGE);
}

/** Tags sorted bytewise (as the spec's "lexical" order), so `last` pages deterministically. */
const bytewise = (value: unknown) => sql`${value} collate "C"`;

/**
 * Repository names in path order: component by component, as the reference registry
 * sorts its catalog ("a/x" before "a-b/x"), so both answer the same pages. A "/" made the
 * lowest byte gives that order to a bytewise comparison.
 */
const pathOrder = (value: unknown) => sql`translate(${value}, '/', chr(1)) collate "C"`;

/**
 * `last` as Postgres can compare it: text cannot hold NUL, and as no name holds one, the
 * names after "p\0…" are exactly those after "p".
 */
function lastOf(input: Page): string | undefined {
  return input.last?.split("\0", 1)[0];
}

export interface TagList {
  name: string;
  tags: string[];
  /** The page size used (`n`, capped), for the link to the next page. */
  n: number;
  /** Set when there are more: the `last` of the next page. */
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
    const last = lastOf(input);
    const { repositoryId } = await readableRepository(ctx.db, ctx, name);
    if (limit === 0) return { name: name.name, tags: [], n: 0 };
    const rows = await ctx.db
      .select({ name: tags.name })
      .from(tags)
      .where(
        and(
          eq(tags.repositoryId, repositoryId),
          last !== undefined ? gt(bytewise(tags.name), last) : undefined,
        ),
      )
      .orderBy(asc(bytewise(tags.name)))
      .limit(limit + 1);
    const page = rows.slice(0, limit).map((r) => r.name);
    return {
      name: name.name,
      tags: page,
      n: limit,
      ...(rows.length > limit ? { next: page[page.length - 1]! } : {}),
    };
  } catch (error) {
    throw ociFailureOf(error);
  }
}

export interface Catalog {
  repositories: string[];
  /** The page size used (`n`, capped), for the link to the next page. */
  n: number;
  next?: string;
}

/** The caller's repositories in this region that hold at least one manifest. */
export async function listCatalog(ctx: RegistryContext, input: Page): Promise<Catalog> {
  try {
    const limit = pageSize(input.n);
    const last = lastOf(input);
    if (limit === 0) return { repositories: [], n: 0 };
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
          last !== undefined ? gt(pathOrder(repositories.name), pathOrder(last)) : undefined,
        ),
      )
      .orderBy(asc(pathOrder(repositories.name)))
      .limit(limit + 1);
    const page = rows.slice(0, limit).map((r) => r.name);
    return {
      repositories: page,
      n: limit,
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
