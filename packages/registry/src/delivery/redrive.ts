import { redrive, redriveDestination } from "@berth/db";
import { z } from "zod";
import { accountId, type RegistryContext } from "../context";
import { badRequest, zodMessage } from "../errors";

/** A destination's name as BERTH_DESTINATIONS spells it, or "tracker". */
export const destinationName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,62}$/, "a destination is named in lowercase letters, digits and '-'");

export const redriveInput = z
  .strictObject({
    /** Dead events to send again; omitted: every dead event of the account. */
    ids: z
      .array(z.uuid({ message: "an event id is a UUID" }))
      .min(1)
      .max(1000)
      .optional(),
    /** Whose dead letters: "tracker" (the default) or a destination beside it. */
    destination: destinationName.default("tracker"),
  })
  .default({ destination: "tracker" });
export type RedriveInput = z.input<typeof redriveInput>;

/**
 * The caller's dead events of one destination back to pending with a fresh attempt budget;
 * returns how many. Scoped to the caller's account, so ids of another tenant's events redrive
 * nothing, and to the destination, so redriving one never resends to the others.
 */
export async function redriveDeadLetters(
  ctx: RegistryContext,
  raw: unknown,
): Promise<{ redriven: number }> {
  const parsed = redriveInput.safeParse(raw ?? undefined);
  if (!parsed.success) throw badRequest(zodMessage(parsed.error));
  const { ids, destination } = parsed.data;
  const scope = { accountId: accountId(ctx), ...(ids ? { ids } : {}) };
  const redriven =
    destination === "tracker"
      ? await redrive(ctx.db, scope)
      : await redriveDestination(ctx.db, { destination, ...scope });
  return { redriven };
}
