import { listDead, outboxStats, redrive } from "@berth/db";
import { z } from "zod";
import { authedProcedure, router } from "../trpc";

/**
 * The caller's account's view of event delivery: backlog, lag, dead letters, redrive.
 * These are operations no action names, so they write no events; every query is scoped to
 * the caller's account, so one tenant never sees or redrives another's events.
 */

export const DEAD_LIST_MAX = 500;

export interface DeliveryStatus {
  /** Events of the account waiting for delivery (including ones being retried). */
  pending: number;
  /** Events parked after too many failed attempts. */
  dead: number;
  /** Age in ms of the oldest pending event: how far delivery lags behind. */
  lagMs: number;
}

export interface DeadLetter {
  id: string;
  /** The event's region (of the resource). */
  region: string;
  action: string;
  attempts: number;
  /** Why the last attempt failed. */
  reason: string | null;
  deadAt: string | null;
  /** The event as it would be delivered. */
  event: unknown;
}

export const deadInput = z
  .strictObject({ limit: z.int().min(1).max(DEAD_LIST_MAX).default(100) })
  .default({ limit: 100 });

export const redriveInput = z
  .strictObject({
    /** Dead events to send again; omitted: every dead event of the account. */
    ids: z
      .array(z.uuid({ message: "an event id is a UUID" }))
      .min(1)
      .max(1000)
      .optional(),
  })
  .default({});
export type RedriveInput = z.input<typeof redriveInput>;

export const deliveryRouter = router({
  status: authedProcedure.query(async ({ ctx }): Promise<DeliveryStatus> => {
    const s = await outboxStats(ctx.deps.db, { accountId: ctx.registry.principal.account.id });
    return { pending: s.pending, dead: s.dead, lagMs: s.oldestPendingAgeMs };
  }),

  dead: authedProcedure.input(deadInput).query(async ({ ctx, input }): Promise<DeadLetter[]> => {
    const rows = await listDead(ctx.deps.db, {
      accountId: ctx.registry.principal.account.id,
      limit: input.limit,
    });
    return rows.map((r) => ({
      id: r.id,
      region: r.region,
      action: r.action,
      attempts: r.attempts,
      reason: r.lastError,
      deadAt: r.deadAt ? r.deadAt.toISOString() : null,
      event: r.payload,
    }));
  }),

  /** Dead events back to pending with a fresh attempt budget; returns how many. */
  redrive: authedProcedure
    .input(redriveInput)
    .mutation(async ({ ctx, input }): Promise<{ redriven: number }> => {
      const redriven = await redrive(ctx.deps.db, {
        accountId: ctx.registry.principal.account.id,
        ...(input.ids ? { ids: input.ids } : {}),
      });
      return { redriven };
    }),
});
