import { redrive } from "@berth/db";
import { z } from "zod";
import { accountId, type RegistryContext } from "../context";
import { badRequest, zodMessage } from "../errors";

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

/**
 * The caller's dead events back to pending with a fresh attempt budget; returns how many.
 * Scoped to the caller's account, so ids of another tenant's events redrive nothing.
 */
export async function redriveDeadLetters(
  ctx: RegistryContext,
  raw: unknown,
): Promise<{ redriven: number }> {
  const parsed = redriveInput.safeParse(raw ?? undefined);
  if (!parsed.success) throw badRequest(zodMessage(parsed.error));
  const { ids } = parsed.data;
  const redriven = await redrive(ctx.db, { accountId: accountId(ctx), ...(ids ? { ids } : {}) });
  return { redriven };
}
