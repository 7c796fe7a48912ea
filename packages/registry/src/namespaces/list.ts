import { cursorCodec, type Page, pageInput } from "@berth/core";
import { manifests, namespaces, repositories } from "@berth/db";
import { and, countDistinct, eq, sql } from "drizzle-orm";
import { z } from "zod";
import type { RegistryContext } from "../context";
import { after, auditedList, bytewise } from "../paging";
import { callersNamespaces } from "./lookup";

/** Namespaces are listed by name, unique in the region. */
const cursor = cursorCodec("namespace.list", z.tuple([z.string().max(64)]));

export const listNamespacesInput = z.object({ ...pageInput(cursor) }).prefault({});
export type ListNamespacesInput = z.input<typeof listNamespacesInput>;

export interface NamespaceSummary {
  name: string;
  region: string;
  createdAt: string;
  repositories: number;
  images: number;
}

/** container-registry.namespace.list, a page at a time. */
export function listNamespaces(
  ctx: RegistryContext,
  raw?: unknown,
): Promise<Page<NamespaceSummary>> {
  return auditedList(ctx, raw, {
    action: "container-registry.namespace.list",
    input: listNamespacesInput,
    cursor,
    read: (db, input) => {
      const order = [bytewise(namespaces.name)];
      return db
        .select({
          name: namespaces.name,
          region: namespaces.region,
          createdAt: namespaces.createdAt,
          repositories: countDistinct(repositories.id),
          images: countDistinct(manifests.digest),
        })
        .from(namespaces)
        .leftJoin(repositories, eq(repositories.namespaceId, namespaces.id))
        .leftJoin(manifests, eq(manifests.repositoryId, repositories.id))
        .where(
          and(
            callersNamespaces(ctx),
            input.cursor ? after(order, [sql`${input.cursor[0]}`]) : undefined,
          ),
        )
        .groupBy(namespaces.id)
        .orderBy(...order)
        .limit(input.limit + 1);
    },
    item: (r) => ({
      name: r.name,
      region: r.region,
      createdAt: r.createdAt.toISOString(),
      repositories: Number(r.repositories),
      images: Number(r.images),
    }),
    key: (r) => [r.name] as [string],
  });
}
