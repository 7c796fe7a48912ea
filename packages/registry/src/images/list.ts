import {
  cursorCodec,
  namespaceNameSchema,
  type Page,
  pageInput,
  repositoryNameSchema,
} from "@berth/core";
import { manifestReferences, manifests, namespaces, repositories, tags } from "@berth/db";
import { and, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { RegistryContext } from "../context";
import { badRequest } from "../errors";
import { callersNamespaces, requireNamespace } from "../namespaces/lookup";
import { after, auditedList, bytewise } from "../paging";

/** Images are listed by repository, then tag: the pair names one tag of the account. */
const cursor = cursorCodec("image.list", z.tuple([z.string().max(256), z.string().max(128)]));

export const listImagesInput = z
  .object({
    /** Only images in this namespace. */
    namespace: namespaceNameSchema.optional(),
    /** Only images in this repository ("ns/repo"). */
    repository: repositoryNameSchema.optional(),
    ...pageInput(cursor),
  })
  .prefault({});
export type ListImagesInput = z.input<typeof listImagesInput>;

export interface ImageSummary {
  /** "ns/repo:tag" */
  image: string;
  namespace: string;
  repository: string;
  tag: string;
  digest: string;
  mediaType: string;
  /** Manifest plus what it references directly (config and compressed layers). */
  size: number;
  pushedAt: string;
}

/** container-registry.image.list: the tagged images of the account in the region, a page at a time. */
export function listImages(ctx: RegistryContext, raw: unknown): Promise<Page<ImageSummary>> {
  return auditedList(ctx, raw, {
    action: "container-registry.image.list",
    input: listImagesInput,
    cursor,
    read: async (db, input) => {
      const nsFilter = input.namespace ?? input.repository?.split("/")[0];
      if (
        input.namespace &&
        input.repository &&
        !input.repository.startsWith(`${input.namespace}/`)
      ) {
        throw badRequest(`repository ${input.repository} is not in namespace ${input.namespace}`);
      }
      if (nsFilter) await requireNamespace(db, ctx, nsFilter);
      const order = [bytewise(repositories.name), bytewise(tags.name)];
      const refSize = sql<string>`coalesce((select sum(${manifestReferences.size}) from ${manifestReferences} where ${manifestReferences.manifestId} = ${manifests.id}), 0)`;
      return db
        .select({
          namespace: namespaces.name,
          repository: repositories.name,
          tag: tags.name,
          digest: manifests.digest,
          mediaType: manifests.mediaType,
          size: manifests.size,
          refSize,
          pushedAt: manifests.createdAt,
        })
        .from(tags)
        .innerJoin(repositories, eq(repositories.id, tags.repositoryId))
        .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId))
        .innerJoin(manifests, eq(manifests.id, tags.manifestId))
        .where(
          and(
            callersNamespaces(ctx),
            nsFilter ? eq(namespaces.name, nsFilter) : undefined,
            input.repository ? eq(repositories.name, input.repository) : undefined,
            input.cursor
              ? after(
                  order,
                  input.cursor.map((k) => sql`${k}`),
                )
              : undefined,
          ),
        )
        .orderBy(...order)
        .limit(input.limit + 1);
    },
    item: (r) => ({
      image: `${r.repository}:${r.tag}`,
      namespace: r.namespace,
      repository: r.repository,
      tag: r.tag,
      digest: r.digest,
      mediaType: r.mediaType,
      size: r.size + Number(r.refSize),
      pushedAt: r.pushedAt.toISOString(),
    }),
    key: (r) => [r.repository, r.tag] as [string, string],
    filters: (input) => ({
      ...(input.namespace ? { namespace: input.namespace } : {}),
      ...(input.repository ? { repository: input.repository } : {}),
    }),
  });
}
