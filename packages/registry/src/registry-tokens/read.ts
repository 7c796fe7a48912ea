import { cursorCodec, type Page, pageInput } from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { registryTokens } from "@berth/db";
import { and, eq, getTableColumns, sql } from "drizzle-orm";
import { z } from "zod";
import { accountId, nowOf, type RegistryContext } from "../context";
import { notFound } from "../errors";
import { readOnNamed } from "../named-action";
import { after, auditedList } from "../paging";
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
  return readOnNamed(ctx, raw, "id", {
    action: "container-registry.registrytoken.get",
    input: getRegistryTokenInput,
    read: async (db, { id }) => {
      const row = await requireToken(db, ctx, id);
      return {
        result: tokenInfo(row, nowOf(ctx)),
        records: [{ target: { name: id }, messageDetail: id }],
      };
    },
  });
}

/**
 * Tokens are listed oldest first, the id breaking ties. The cursor keeps the creation time
 * in microseconds, as Postgres stores it: a time cut to milliseconds would put the last
 * token of a page after its own key and list it again.
 */
const cursor = cursorCodec(
  "registrytoken.list",
  z.tuple([z.string().regex(/^\d{1,18}$/), tokenIdSchema]),
);

export const listRegistryTokensInput = z.object({ ...pageInput(cursor) }).prefault({});
export type ListRegistryTokensInput = z.input<typeof listRegistryTokensInput>;

/** container-registry.registrytoken.list, a page at a time. */
export function listRegistryTokens(
  ctx: RegistryContext,
  raw?: unknown,
): Promise<Page<RegistryTokenInfo>> {
  // One time for the whole page (expired or not), taken once its rows are read.
  let now: Date;
  return auditedList(ctx, raw, {
    action: "container-registry.registrytoken.list",
    input: listRegistryTokensInput,
    cursor,
    read: async (db, input) => {
      const order = [sql`${registryTokens.createdAt}`, sql`${registryTokens.id}`];
      const rows = await db
        .select({
          ...getTableColumns(registryTokens),
          createdMicros: sql<string>`floor(extract(epoch from ${registryTokens.createdAt}) * 1000000)::bigint::text`,
        })
        .from(registryTokens)
        .where(
          and(
            eq(registryTokens.accountId, accountId(ctx)),
            eq(registryTokens.region, ctx.region),
            input.cursor
              ? after(order, [
                  sql`timestamptz 'epoch' + ${input.cursor[0]}::bigint * interval '1 microsecond'`,
                  sql`${input.cursor[1]}::uuid`,
                ])
              : undefined,
          ),
        )
        .orderBy(...order)
        .limit(input.limit + 1);
      now = nowOf(ctx);
      return rows;
    },
    item: ({ createdMicros: _, ...r }) => tokenInfo(r, now),
    key: (r) => [r.createdMicros, r.id] as [string, string],
  });
}
