import { type RegionName, SERVICE_NAME } from "@berth/core";
import type { Db } from "@berth/db";
import { v7 as uuidv7 } from "uuid";
import type { RegistryContext } from "../context";
import type { BlobStore } from "../storage/blob-store";

/** The id the registry's own background work (GC, retention runs) acts as in events. */
export const SERVICE_INITIATOR_ID = `ServiceId-${SERVICE_NAME}`;

/**
 * A context in which the registry itself acts for an account: events of background work
 * (an expired trash entry purged, a retention run) name the service as their initiator.
 */
export function serviceContext(
  db: Db,
  store: BlobStore,
  account: { id: string; name: string },
  region: string,
  opts: { requestId?: string; now?: () => Date } = {},
): RegistryContext {
  return {
    db,
    store,
    region: region as RegionName,
    principal: {
      account,
      user: { id: SERVICE_INITIATOR_ID, name: SERVICE_NAME, kind: "serviceid" },
      credentialType: "token",
    },
    requestId: opts.requestId ?? uuidv7(),
    clientIp: "127.0.0.1",
    userAgent: SERVICE_NAME,
    ...(opts.now ? { now: opts.now } : {}),
  };
}
