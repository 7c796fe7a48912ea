import {
  cursorCodec,
  type ExemptionScope,
  InvalidExemptionScopeError,
  type Page,
  pageInput,
  pageOf,
  parseExemptionScope,
} from "@berth/core";
import { exemptions } from "@berth/db";
import { and, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import { accountId, type RegistryContext } from "../context";
import { badRequest, zodMessage } from "../errors";
import { after, bytewise } from "../paging";
import { type ExemptionInfo, exemptionInfo } from "./model";

/** Exemptions are listed by scope, then issue; the id breaks the tie of the issue's type. */
const cursor = cursorCodec(
  "exemption.list",
  z.tuple([z.string().max(512), z.string().max(256), z.uuid()]),
);

export const listExemptionsInput = z
  .object({
    /** Only the exemptions that apply to this scope (`*`, `ns`, `ns/repo`, `ns/repo:tag`, `ns/repo@digest`). */
    scope: z.string().optional(),
    ...pageInput(cursor),
  })
  .prefault({});
export type ListExemptionsInput = z.input<typeof listExemptionsInput>;

/**
 * The scopes whose exemptions apply to `query` (core's `scopeApplies`): the scope itself and
 * every broader one. Few and known, so the filter runs in the query and pages stay full.
 */
function coveringScopes(query: ExemptionScope): string[] {
  if (query.kind === "account") return ["*"];
  const scopes = ["*", query.namespace];
  if (query.kind === "namespace") return scopes;
  scopes.push(query.repository);
  if (query.kind === "repository") return scopes;
  if (query.tag !== undefined) scopes.push(`${query.repository}:${query.tag}`);
  if (query.digest !== undefined) scopes.push(`${query.repository}@${query.digest}`);
  return scopes;
}

/**
 * The caller's exemptions in the region, or those that apply to a scope (the scope itself
 * and every broader one), a page at a time. Not an audited action: the catalog names no
 * event for it.
 */
export async function listExemptions(
  ctx: RegistryContext,
  raw: unknown,
): Promise<Page<ExemptionInfo>> {
  const parsed = listExemptionsInput.safeParse(raw ?? {});
  if (!parsed.success) throw badRequest(zodMessage(parsed.error));
  const input = parsed.data;
  let applying: string[] | undefined;
  if (input.scope !== undefined) {
    try {
      applying = coveringScopes(parseExemptionScope(input.scope, { allowTagAndDigest: true }));
    } catch (error) {
      if (error instanceof InvalidExemptionScopeError) throw badRequest(error.message);
      throw error;
    }
  }
  const order = [bytewise(exemptions.scope), bytewise(exemptions.issueId), sql`${exemptions.id}`];
  const rows = await ctx.db
    .select()
    .from(exemptions)
    .where(
      and(
        eq(exemptions.accountId, accountId(ctx)),
        eq(exemptions.region, ctx.region),
        applying ? inArray(exemptions.scope, applying) : undefined,
        input.cursor
          ? after(order, [
              sql`${input.cursor[0]}`,
              sql`${input.cursor[1]}`,
              sql`${input.cursor[2]}::uuid`,
            ])
          : undefined,
      ),
    )
    .orderBy(...order)
    .limit(input.limit + 1);
  return pageOf(
    rows,
    input.limit,
    exemptionInfo,
    (r) => [r.scope, r.issueId, r.id] as [string, string, string],
    cursor,
  );
}
