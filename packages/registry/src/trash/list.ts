import { trashEntries } from "@berth/db";
import { and, asc, desc, eq } from "drizzle-orm";
import { z } from "zod";
import { accountTarget, runAuditedRead } from "../audit";
import { accountId, type RegistryContext } from "../context";

export const listTrashInput = z
  .object({
    /** Only this namespace, or this repository ("ns/repo"). */
    namespace: z.string().min(1).max(255).optional(),
    repository: z.string().min(1).max(255).optional(),
  })
  .optional();
export type ListTrashInput = z.input<typeof listTrashInput>;

export interface TrashItem {
  id: string;
  repository: string;
  digest: string;
  mediaType: string;
  size: number;
  /** The tags it had when it was deleted. */
  tags: string[];
  /** The action that deleted it. */
  reason: string;
  deletedAt: string;
  /** When the GC purges it unless it is restored first. */
  expiresAt: string;
}

/** container-registry.trash.list: the account's deleted images in the region, and until when they stay. */
export function listTrash(ctx: RegistryContext, raw: unknown): Promise<TrashItem[]> {
  return runAuditedRead(ctx, {
    action: "container-registry.trash.list",
    failure: () => [{ target: accountTarget(ctx) }],
    read: async (db) => {
      const input = listTrashInput.parse(raw) ?? {};
      const rows = await db
        .select({
          id: trashEntries.id,
          repository: trashEntries.repository,
          digest: trashEntries.digest,
          mediaType: trashEntries.mediaType,
          size: trashEntries.size,
          tags: trashEntries.tags,
          reason: trashEntries.reason,
          deletedAt: trashEntries.deletedAt,
          expiresAt: trashEntries.expiresAt,
        })
        .from(trashEntries)
        .where(
          and(
            eq(trashEntries.accountId, accountId(ctx)),
            eq(trashEntries.region, ctx.region),
            input.namespace ? eq(trashEntries.namespace, input.namespace) : undefined,
            input.repository ? eq(trashEntries.repository, input.repository) : undefined,
          ),
        )
        .orderBy(desc(trashEntries.deletedAt), asc(trashEntries.repository));
      const items = rows.map((r) => ({
        ...r,
        deletedAt: r.deletedAt.toISOString(),
        expiresAt: r.expiresAt.toISOString(),
      }));
      return {
        result: items,
        records: [
          {
            target: accountTarget(ctx),
            requestData: { ...input },
            responseData: { count: items.length },
          },
        ],
      };
    },
  });
}
