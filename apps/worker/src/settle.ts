import { type Settlement, type Sql, settleDeliveries, settleDestination } from "@berth/db";
import type { Logger } from "pino";

/**
 * Record a batch's outcome. Settling must not be lost to a passing database error, or the
 * batch would be sent again after its lease; retry briefly, then let the lease do its job.
 * Resolves whether it was recorded.
 */
export async function settle(
  sql: Sql,
  out: Settlement,
  log: Logger,
  /** A destination beside the tracker: its own ledger. */
  destination?: string,
): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    try {
      if (destination) await settleDestination(sql, destination, out);
      else await settleDeliveries(sql, out);
      return true;
    } catch (error) {
      if (attempt >= 5) {
        log.error(
          { err: error },
          "could not settle a batch; its leases will expire and it will be sent again",
        );
        return false;
      }
      await new Promise((r) => setTimeout(r, 100 * attempt));
    }
  }
}
