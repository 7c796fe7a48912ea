import { manifests, namespaces, repositories } from "@berth/db";
import { and, asc, countDistinct, eq } from "drizzle-orm";
import { accountTarget, runAudited } from "../audit";
import { accountId, type RegistryContext } from "../context";

export interface NamespaceSummary {
  name: string;
  region: string;
  createdAt: string;
  repositories: number;
  images: number;
}

/** container-registry.namespace.list */
export function listNamespaces(ctx: RegistryContext): Promise<NamespaceSummary[]> {
  return runAudited(ctx, {
    action: "container-registry.namespace.list",
    failure: () => [{ target: accountTarget(ctx) }],
    execute: async (tx) => {
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
        .where(and(eq(namespaces.accountId, accountId(ctx)), eq(namespaces.region, ctx.region)))
        .groupBy(namespaces.id)
        .orderBy(asc(namespaces.name));
      const result = rows.map((r) => ({
        name: r.name,
        region: r.region,
        createdAt: r.createdAt.toISOString(),
        repositories: Number(r.repositories),
        images: Number(r.images),
      }));
      return {
        result,
        records: [{ target: accountTarget(ctx), responseData: { count: result.length } }],
      };
    },
  });
}
