import { cursorCodec, type Page, pageInput, pageOf } from "@berth/core";
import { manifests, namespaces, repositories } from "@berth/db";
import { and, countDistinct, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { accountTarget, runAudited } from "../audit";
import type { RegistryContext } from "../context";
import { after, bytewise } from "../paging";
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
  return runAudited(ctx, {
    action: "container-registry.namespace.list",
    failure: () => [{ target: accountTarget(ctx) }],
    execute: async (tx) => {
      const input = listNamespacesInput.parse(raw ?? {});
      const order = [bytewise(namespaces.name)];
      const rows = await tx
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
      const result = pageOf(
        rows,
        input.limit,
        (r) => ({
          name: r.name,
          region: r.region,
          createdAt: r.createdAt.toISOString(),
          repositories: Number(r.repositories),
          images: Number(r.images),
        }),
        (r) => [r.name] as [string],
        cursor,
      );
      return {
        result,
        records: [{ target: accountTarget(ctx), responseData: { count: result.items.length } }],
      };
    },
  });
}
