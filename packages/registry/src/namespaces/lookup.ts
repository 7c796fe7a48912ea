import type { DbOrTx } from "@berth/db";
import { namespaces } from "@berth/db";
import { and, eq } from "drizzle-orm";
import { accountId, type RegistryContext } from "../context";
import { notFound } from "../errors";

export type NamespaceRow = typeof namespaces.$inferSelect;

/**
 * The condition on `namespaces` that selects the caller's namespace of that name in the
 * request's region: another account's namespace of the same name never matches.
 */
export function callersNamespace(ctx: RegistryContext, name: string) {
  return and(callersNamespaces(ctx), eq(namespaces.name, name));
}

/** The condition on `namespaces` that selects all the caller's namespaces in the request's region. */
export function callersNamespaces(ctx: RegistryContext) {
  return and(eq(namespaces.accountId, accountId(ctx)), eq(namespaces.region, ctx.region));
}

/** The caller's namespace of that name in the request's region, or null. */
export async function findNamespace(
  tx: DbOrTx,
  ctx: RegistryContext,
  name: string,
): Promise<NamespaceRow | null> {
  const rows = await tx.select().from(namespaces).where(callersNamespace(ctx, name)).limit(1);
  return rows[0] ?? null;
}

/**
 * The caller's namespace, or NOT_FOUND. Another account's namespace gets the same answer
 * as one that does not exist, so names of other tenants cannot be probed through it.
 */
export async function requireNamespace(
  tx: DbOrTx,
  ctx: RegistryContext,
  name: string,
): Promise<NamespaceRow> {
  const ns = await findNamespace(tx, ctx, name);
  if (!ns) {
    throw notFound(`namespace "${name}" was not found in region ${ctx.region}`, "NAME_UNKNOWN");
  }
  return ns;
}
