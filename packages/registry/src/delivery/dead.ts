import { listDead } from "@berth/db";
import { z } from "zod";
import { accountId, type RegistryContext } from "../context";
import { badRequest, zodMessage } from "../errors";
import type { DeadLetter } from "./model";

export const DEAD_LIST_MAX = 500;

export const deadInput = z
  .strictObject({ limit: z.int().min(1).max(DEAD_LIST_MAX).default(100) })
  .default({ limit: 100 });
export type DeadInput = z.input<typeof deadInput>;

/** The caller's dead-lettered events, oldest first. */
export async function listDeadLetters(ctx: RegistryContext, raw: unknown): Promise<DeadLetter[]> {
  const parsed = deadInput.safeParse(raw ?? undefined);
  if (!parsed.success) throw badRequest(zodMessage(parsed.error));
  const rows = await listDead(ctx.db, { accountId: accountId(ctx), limit: parsed.data.limit });
  return rows.map((r) => ({
    id: r.id,
    region: r.region,
    action: r.action,
    attempts: r.attempts,
    reason: r.lastError,
    deadAt: r.deadAt ? r.deadAt.toISOString() : null,
    event: r.payload,
  }));
}
