import { registryTokens } from "@berth/db";
import { and, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import { field, runAudited, safeName } from "../audit";
import { type BulkOutcome, BulkRecorder, MAX_BULK } from "../bulk";
import { accountId, type RegistryContext } from "../context";
import { runOnNamed } from "../named-action";
import { requireToken, tokenIdSchema } from "./read";

export const deleteRegistryTokenInput = z.object({ id: tokenIdSchema });
export type DeleteRegistryTokenInput = z.input<typeof deleteRegistryTokenInput>;

/** container-registry.registrytoken.delete */
export function deleteRegistryToken(ctx: RegistryContext, raw: unknown): Promise<{ id: string }> {
  return runOnNamed(ctx, raw, "id", {
    action: "container-registry.registrytoken.delete",
    input: deleteRegistryTokenInput,
    execute: async (tx, { id }) => {
      await requireToken(tx, ctx, id);
      await tx.delete(registryTokens).where(eq(registryTokens.id, id));
      return { result: { id }, records: [{ target: { name: id }, messageDetail: id }] };
    },
  });
}

export const deleteRegistryTokensInput = z.object({
  ids: z.array(z.string()).min(1, "give at least one token id").max(MAX_BULK),
});
export type DeleteRegistryTokensInput = z.input<typeof deleteRegistryTokensInput>;

/**
 * container-registry.registrytokens.delete: each id is its own target with its own event,
 * all written in one statement. Ids that are not the caller's (or not token ids at all)
 * fail on their own while the others are deleted; when every id fails the call fails.
 */
export function deleteRegistryTokens(
  ctx: RegistryContext,
  raw: unknown,
): Promise<{ deleted: string[]; results: BulkOutcome[] }> {
  return runAudited(ctx, {
    action: "container-registry.registrytokens.delete",
    failure: () => {
      const ids = field(raw, "ids");
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_BULK) {
        return [{ target: { name: "invalid" } }];
      }
      return [...new Set(ids.map((id) => safeName(id)))].map((name) => ({
        target: { name },
        messageDetail: name,
      }));
    },
    execute: async (tx) => {
      const { ids } = deleteRegistryTokensInput.parse(raw);
      const bulk = new BulkRecorder();
      const toDelete: string[] = [];
      for (const id of new Set(ids)) {
        const name = safeName(id);
        try {
          const valid = tokenIdSchema.parse(id);
          await requireToken(tx, ctx, valid);
          toDelete.push(valid);
          bulk.ok(id, { target: { name }, messageDetail: name });
        } catch (thrown) {
          bulk.fail(id, { name }, thrown, name);
        }
      }
      if (toDelete.length > 0) {
        await tx
          .delete(registryTokens)
          .where(
            and(inArray(registryTokens.id, toDelete), eq(registryTokens.accountId, accountId(ctx))),
          );
      }
      return { result: { deleted: toDelete, results: bulk.results }, records: bulk.records };
    },
  });
}
