import type { CredentialType, Initiator, RegionName } from "@berth/core";
import { hostFromAddress, hostSchema } from "@berth/core";
import type { Db } from "@berth/db";
import type { BlobStore } from "./storage/blob-store";

/** Who is acting: resolved from an API key, a registry token or a bearer token. */
export interface Principal {
  account: { id: string; name: string };
  /** The user or service id behind the credential; a registry token acts as its account. */
  user: { id: string; name: string; kind: "user" | "serviceid" };
  credentialType: CredentialType;
}

/** Everything a use case needs to know about the request it serves. */
export interface RegistryContext {
  db: Db;
  store: BlobStore;
  /** Region of the endpoint that received the request. */
  region: RegionName;
  principal: Principal;
  /** The request id; it becomes the events' correlationId. */
  requestId: string;
  clientIp: string;
  userAgent: string;
  now?: () => Date;
  /** Days a deleted image stays in the trash (default 30). */
  trashDays?: number;
}

export function nowOf(ctx: Pick<RegistryContext, "now">): Date {
  return ctx.now ? ctx.now() : new Date();
}

export function accountId(ctx: RegistryContext): string {
  return ctx.principal.account.id;
}

const FALLBACK_ADDRESS = "0.0.0.0";

/** The CADF initiator of the request's events. */
export function initiatorOf(ctx: RegistryContext): Initiator {
  const { user, credentialType } = ctx.principal;
  let host = hostFromAddress(ctx.clientIp || FALLBACK_ADDRESS, ctx.userAgent ?? "");
  // A socket without a usable address (unix socket, in-process call) still needs a valid host.
  if (!hostSchema.safeParse(host).success)
    host = hostFromAddress(FALLBACK_ADDRESS, ctx.userAgent ?? "");
  return {
    id: user.id,
    name: user.name,
    typeURI:
      user.kind === "serviceid"
        ? "service/security/account/serviceid"
        : "service/security/account/user",
    credential: { type: credentialType },
    host,
  };
}
