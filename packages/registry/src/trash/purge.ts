import type { Db } from "@berth/db";
import { accounts, trashEntries } from "@berth/db";
import { and, asc, eq, inArray, lt } from "drizzle-orm";
import { z } from "zod";
import { type AuditRecord, field, runAudited, safeName } from "../audit";
import { accountId, nowOf, type RegistryContext } from "../context";
import { notFound } from "../errors";
import { imageTarget } from "../images/resolve";
import { serviceContext } from "../lifecycle/service";
import type { BlobStore } from "../storage/blob-store";

export const purgeTrashInput = z.object({
  /** Entries to purge (ids from trash.list); all of the account's in the region when absent. */
  ids: z.array(z.uuid()).min(1).max(1000).optional(),
});
export type PurgeTrashInput = z.input<typeof purgeTrashInput>;

export interface PurgedEntry {
  id: string;
  repository: string;
  digest: string;
}

type EntryRow = { id: string; repository: string; digest: string; reason: string; expiresAt: Date };

function purgeRecord(e: EntryRow, why: "emptied" | "expired"): AuditRecord {
  const name = `${e.repository}@${e.digest}`;
  return {
    target: imageTarget(name, e.repository, e.digest),
    messageDetail: name,
    requestData: { trashEntry: e.id, why },
    responseData: { digest: e.digest, deletedBy: e.reason, expiresAt: e.expiresAt.toISOString() },
  };
}

const entryColumns = {
  id: trashEntries.id,
  repository: trashEntries.repository,
  digest: trashEntries.digest,
  reason: trashEntries.reason,
  expiresAt: trashEntries.expiresAt,
};

/**
 * container-registry.trash.purge, on demand: empty the account's trash in the region, or
 * the given entries (an id of another account is not found, as one that does not exist).
 * One event per image; its blobs become garbage unless something else uses them.
 */
export function purgeTrash(ctx: RegistryContext, raw: unknown): Promise<PurgedEntry[]> {
  return runAudited(ctx, {
    action: "container-registry.trash.purge",
    failure: () => {
      const ids = field(raw, "ids");
      return Array.isArray(ids) && ids.length > 0
        ? ids.slice(0, 100).map((id) => ({ target: { name: safeName(id) } }))
        : [{ target: { name: accountId(ctx) } }];
    },
    execute: async (tx) => {
      const { ids } = purgeTrashInput.parse(raw ?? {});
      const mine = and(
        eq(trashEntries.accountId, accountId(ctx)),
        eq(trashEntries.region, ctx.region),
      );
      const rows = await tx
        .select(entryColumns)
        .from(trashEntries)
        .where(and(mine, ids ? inArray(trashEntries.id, ids) : undefined))
        .orderBy(asc(trashEntries.deletedAt))
        .for("update");
      if (ids) {
        const found = new Set(rows.map((r) => r.id));
        const missing = [...new Set(ids)].find((id) => !found.has(id));
        if (missing) throw notFound(`trash entry ${missing} was not found in region ${ctx.region}`);
      }
      if (rows.length > 0) {
        await tx.delete(trashEntries).where(
          inArray(
            trashEntries.id,
            rows.map((r) => r.id),
          ),
        );
      }
      return {
        result: rows.map((r) => ({ id: r.id, repository: r.repository, digest: r.digest })),
        records: rows.map((r) => purgeRecord(r, "emptied")),
      };
    },
  });
}

export interface ExpiredPurgeReport {
  purged: number;
  accounts: number;
}

/**
 * The GC's part: every trash entry past its expiry goes, one container-registry.trash.purge
 * event each with the service as initiator, per account and region in one transaction.
 * Entries another process is purging are skipped (SKIP LOCKED), so many servers may run it.
 */
export async function purgeExpiredTrash(
  db: Db,
  store: BlobStore,
  opts: { now?: () => Date; batch?: number } = {},
): Promise<ExpiredPurgeReport> {
  const now = opts.now ?? (() => new Date());
  const batch = opts.batch ?? 500;
  const report: ExpiredPurgeReport = { purged: 0, accounts: 0 };
  const owners = await db
    .selectDistinct({
      accountId: trashEntries.accountId,
      region: trashEntries.region,
      name: accounts.name,
    })
    .from(trashEntries)
    .innerJoin(accounts, eq(accounts.id, trashEntries.accountId))
    .where(lt(trashEntries.expiresAt, now()));
  for (const owner of owners) {
    const ctx = serviceContext(db, store, { id: owner.accountId, name: owner.name }, owner.region, {
      now,
    });
    for (;;) {
      const purged = await runAudited(ctx, {
        action: "container-registry.trash.purge",
        failure: () => [{ target: { name: owner.accountId } }],
        execute: async (tx) => {
          const rows = await tx
            .select(entryColumns)
            .from(trashEntries)
            .where(
              and(
                eq(trashEntries.accountId, owner.accountId),
                eq(trashEntries.region, owner.region),
                lt(trashEntries.expiresAt, nowOf(ctx)),
              ),
            )
            .limit(batch)
            .for("update", { skipLocked: true });
          if (rows.length > 0) {
            await tx.delete(trashEntries).where(
              inArray(
                trashEntries.id,
                rows.map((r) => r.id),
              ),
            );
          }
          return { result: rows.length, records: rows.map((r) => purgeRecord(r, "expired")) };
        },
      });
      report.purged += purged;
      if (purged < batch) break;
    }
    report.accounts++;
  }
  return report;
}
