import { listDead, listDeadDeliveries } from "@berth/db";
import { z } from "zod";
import { accountId, type RegistryContext } from "../context";
import { badRequest, zodMessage } from "../errors";
import type { DeadLetter } from "./model";
import { destinationName } from "./redrive";

export const DEAD_LIST_MAX = 500;

export const deadInput = z
  .strictObject({
    limit: z.int().min(1).max(DEAD_LIST_MAX).default(100),
    /** Whose dead letters: "tracker" (the default) or a destination beside it. */
    destination: destinationName.default("tracker"),
  })
  .default({ limit: 100, destination: "tracker" });
export type DeadInput = z.input<typeof deadInput>;

/** The caller's dead-lettered events of one destination, oldest first. */
export async function listDeadLetters(ctx: RegistryContext, raw: unknown): Promise<DeadLetter[]> {
  const parsed = deadInput.safeParse(raw ?? undefined);
  if (!parsed.success) throw badRequest(zodMessage(parsed.error));
  const { limit, destination } = parsed.data;
  const rows =
    destination === "tracker"
      ? (await listDead(ctx.db, { accountId: accountId(ctx), limit })).map((r) => ({
          ...r,
          destination,
        }))
      : await listDeadDeliveries(ctx.db, { destination, accountId: accountId(ctx), limit });
  return rows.map((r) => ({
    destination: r.destination,
    id: r.id,
    region: r.region,
    action: r.action,
    attempts: r.attempts,
    reason: r.lastError,
    deadAt: r.deadAt ? r.deadAt.toISOString() : null,
    event: r.payload,
  }));
}
