import { outboxStats } from "@berth/db";
import { accountId, type RegistryContext } from "../context";
import type { DeliveryStatus } from "./model";

/** The caller's backlog and lag; one tenant never sees another's. */
export async function deliveryStatus(ctx: RegistryContext): Promise<DeliveryStatus> {
  const s = await outboxStats(ctx.db, { accountId: accountId(ctx) });
  return { pending: s.pending, dead: s.dead, lagMs: s.oldestPendingAgeMs };
}
