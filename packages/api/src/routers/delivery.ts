import {
  type DeadInput,
  type DeadLetter,
  type DeliveryStatus,
  deliveryStatus,
  listDeadLetters,
  type RedriveInput,
  redriveDeadLetters,
} from "@berth/registry";
import { authedProcedure, router, typed } from "../trpc";

export type { DeadLetter, DeliveryStatus, RedriveInput };

/**
 * The caller's account's view of event delivery: backlog, lag, dead letters, redrive.
 * These are operations no action names, so they write no events; every use case is scoped to
 * the caller's account, so one tenant never sees or redrives another's events.
 */
export const deliveryRouter = router({
  status: authedProcedure.query(({ ctx }) => deliveryStatus(ctx.registry)),
  dead: authedProcedure
    .input(typed<DeadInput | undefined>())
    .query(({ ctx, input }) => listDeadLetters(ctx.registry, input)),
  /** Dead events back to pending with a fresh attempt budget; returns how many. */
  redrive: authedProcedure
    .input(typed<RedriveInput | undefined>())
    .mutation(({ ctx, input }) => redriveDeadLetters(ctx.registry, input)),
});
