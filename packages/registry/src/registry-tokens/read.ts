import type { DbOrTx } from "@berth/db";
import { registryTokens } from "@berth/db";
import { and, asc, eq } from "drizzle-orm";
import { z } from "zod";
import { accountTarget, field, runAudited, safeName } from "../audit";
import { accountId, nowOf, type RegistryContext } from "../context";
import { notFound } from "../errors";
import { type RegistryTokenInfo, type RegistryTokenRow, tokenInfo } from "./model";

export const tokenIdSchema = z.uuid({ message: "a registry token id is a UUID" });
export const getRegistryTokenInput = z.object({ id: tokenIdSchema });
export type GetRegistryTokenInput = z.input<typeof getRegistryTokenInput>;

/** The caller's token in the request's region; another account's looks like none. */
export async function requireToken(
  tx: DbOrTx,
  ctx: RegistryContext,
  id: string,
): Promise<RegistryTokenRow> {
  const rows = await tx
    .select()
    .from(registryTokens)
    .where(
      and(
        eq(registryTokens.id, id),
        eq(registryTokens.accountId, accountId(ctx)),
        eq(registryTokens.region, ctx.region),
      ),
    );
  if (!rows[0]) throw notFound(`registry token ${id} was not found in region ${ctx.region}`);
  return rows[0];
}

/** container-registry.registrytoken.get */
export function getRegistryToken(ctx: RegistryContext, raw: unknown): Promise<RegistryTokenInfo> {
  const rawId = safeName(field(raw, "id"));
  return runAudited(ctx, {
    action: "container-registry.registrytoken.get",
    failure: () => [{ target: { name: rawId }, messageDetail: rawId }],
    execute: async (tx) => {
      const { id } = getRegistryTokenInput.parse(raw);
      const row = await requireToken(tx, ctx, id);
      return {
        result: tokenInfo(row, nowOf(ctx)),
        records: [{ target: { name: id }, messageDetail: id }],
      };
    },
  });
}

/** container-registry.registrytoken.list */
export function listRegistryTokens(ctx: RegistryContext): Promise<RegistryTokenInfo[]> {
  return runAudited(ctx, {
    action: "container-registry.registrytoken.list",
    failure: () => [{ target: accountTarget(ctx) }],
    execute: async (tx) => {
      const rows = await tx
        .select()
        .from(registryTokens)
        .where(
          and(eq(registryTokens.accountId, accountId(ctx)), eq(registryTokens.region, ctx.region)),
        )
        .orderBy(asc(registryTokens.createdAt), asc(registryTokens.id));
      const now = nowOf(ctx);
      return {
        result: rows.map((r) => tokenInfo(r, now)),
        records: [{ target: accountTarget(ctx), responseData: { count: rows.length } }],
      };
    },
  });
}
