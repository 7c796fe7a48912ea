import { uploadSessions } from "@berth/db";
import { eq, sql } from "drizzle-orm";
import { v7 as uuidv7 } from "uuid";
import type { CredentialSource } from "../../auth/credential";
import { accountId, nowOf, type RegistryContext } from "../../context";
import { ensureRepository } from "../../images/records";
import { relaxedCommit } from "../commit";
import { auditedStart, startChecks } from "./push-start";

/** Open a blob upload session in the caller's repository (created on first push). */
export function startUpload(
  ctx: RegistryContext,
  input: {
    repository: string;
    /** A bearer token's credential not looked up yet: checked in the first query. */
    unconfirmed?: CredentialSource;
  },
): Promise<{ id: string }> {
  return auditedStart(ctx, input.repository, async () => {
    const { name, row } = await startChecks(ctx, input.repository, {
      countUploads: true,
      ...(input.unconfirmed ? { unconfirmed: input.unconfirmed } : {}),
    });
    const id = uuidv7();
    const now = nowOf(ctx);
    const session = {
      id,
      accountId: accountId(ctx),
      offset: 0,
      startedAt: now,
      updatedAt: now,
    };
    let repositoryId = row.repositoryId;
    if (repositoryId) {
      // The common case, in one statement that commits without waiting (see relaxedCommit).
      await ctx.db.execute(sql`
        with relaxed as (select set_config('synchronous_commit', 'off', true))
        insert into upload_sessions (id, repository_id, account_id, "offset", started_at, updated_at)
        select ${id}, ${repositoryId}, ${session.accountId}, 0,
               ${now.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz
          from relaxed`);
    } else {
      repositoryId = await ctx.db.transaction(async (tx) => {
        await relaxedCommit(tx);
        const created = await ensureRepository(tx, row.namespaceId, name.name);
        await tx.insert(uploadSessions).values({ ...session, repositoryId: created });
        return created;
      });
    }
    try {
      const state = await ctx.store.uploads().create(id);
      // The drivers start from an empty state (the row's default); one that does not is kept.
      if (Object.keys(state).length > 0) {
        await ctx.db.update(uploadSessions).set({ state }).where(eq(uploadSessions.id, id));
      }
    } catch (error) {
      await ctx.db.delete(uploadSessions).where(eq(uploadSessions.id, id));
      throw error;
    }
    return { id };
  });
}
