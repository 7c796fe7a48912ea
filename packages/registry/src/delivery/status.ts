import { destinationStats, outboxStats } from "@berth/db";
import { accountId, type RegistryContext } from "../context";
import type { DeliveryStatus } from "./model";

/** The caller's backlog and lag, per destination; one tenant never sees another's. */
export async function deliveryStatus(ctx: RegistryContext): Promise<DeliveryStatus> {
  const account = accountId(ctx);
  const [s, others] = await Promise.all([
    outboxStats(ctx.db, { accountId: account }),
    destinationStats(ctx.db, { accountId: account }),
  ]);
  const tracker = { pending: s.pending, dead: s.dead, lagMs: s.oldestPendingAgeMs };
  return {
    ...tracker,
    destinations: [
      { destination: "tracker", ...tracker },
      ...others.map((d) => ({
        destination: d.destination,
        pending: d.pending,
        dead: d.dead,
        lagMs: d.oldestPendingAgeMs,
      })),
    ],
  };
}
