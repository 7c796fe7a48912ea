import type { Db } from "@berth/db";
import { verifyApiKey } from "../accounts/accounts";
import { REGISTRY_TOKEN_USERNAME } from "../registry-tokens/model";
import { verifyRegistryToken } from "../registry-tokens/verify";
import { BEARER_USERNAME, type BearerTokens } from "./bearer";
import { ALL_ACTIONS, READ_ONLY, type RegistryCredential } from "./credential";
import { allowedNow } from "./holds";

/** The user name that goes with an API key in Basic auth. */
export const API_KEY_USERNAME = "iamapikey";

export interface AuthDeps {
  db: Db;
  /** Region of the endpoint: registry tokens only work in the region they were made for. */
  region: string;
  tokens: BearerTokens;
  now?: () => Date;
}

export type AuthorizationHeader =
  | { scheme: "basic"; username: string; password: string }
  | { scheme: "bearer"; token: string };

/** Parse an Authorization header; null when it is neither well-formed Basic nor Bearer. */
export function parseAuthorization(header: string | undefined): AuthorizationHeader | null {
  if (!header) return null;
  const m = /^(\S+)\s+(\S+)\s*$/.exec(header);
  if (!m) return null;
  const scheme = m[1]!.toLowerCase();
  if (scheme === "bearer") return { scheme: "bearer", token: m[2]! };
  if (scheme !== "basic") return null;
  let decoded: string;
  try {
    decoded = Buffer.from(m[2]!, "base64").toString("utf8");
  } catch {
    return null;
  }
  const colon = decoded.indexOf(":");
  if (colon < 0) return null;
  return {
    scheme: "basic",
    username: decoded.slice(0, colon),
    password: decoded.slice(colon + 1),
  };
}

/**
 * Basic credentials of a registry client: `iamapikey` + an API key (everything the
 * account may do), `token` + a registry token of this region (read-only tokens pull
 * only; expired tokens are refused), `iambearer` + a bearer token issued by Berth.
 * Null when the user name is unknown or the secret does not check out.
 */
export async function authenticateBasic(
  deps: AuthDeps,
  username: string,
  password: string,
): Promise<RegistryCredential | null> {
  if (password === "") return null;
  switch (username) {
    case API_KEY_USERNAME: {
      const verified = await verifyApiKey(deps.db, password);
      if (!verified) return null;
      return {
        principal: verified.principal,
        source: { kind: "apikey", id: verified.keyId },
        allowed: ALL_ACTIONS,
      };
    }
    case REGISTRY_TOKEN_USERNAME: {
      const verified = await verifyRegistryToken(deps.db, password, {
        region: deps.region,
        ...(deps.now ? { now: deps.now() } : {}),
      });
      if (!verified) return null;
      return {
        principal: verified.principal,
        source: { kind: "registrytoken", id: verified.tokenId },
        ...(verified.expiresAt ? { expiresAt: verified.expiresAt } : {}),
        allowed: verified.access === "readwrite" ? ALL_ACTIONS : READ_ONLY,
      };
    }
    case BEARER_USERNAME:
      return verifyBearer(deps, password);
    default:
      return null;
  }
}

/** The credential of an Authorization header (Basic or Bearer), or null. */
export async function authenticate(
  deps: AuthDeps,
  header: AuthorizationHeader,
): Promise<RegistryCredential | null> {
  return header.scheme === "bearer"
    ? verifyBearer(deps, header.token)
    : authenticateBasic(deps, header.username, header.password);
}

/**
 * A bearer token's credential, or null when the token is invalid or expired, or the API
 * key or registry token it was made from has since been deleted (or has expired, or was
 * for another region): see holds.ts. The signature alone would keep a token good for its
 * five minutes after its credential was revoked; one primary-key lookup per request (as
 * many as Basic credentials cost) makes deleting a credential take effect at once.
 */
export async function verifyBearer(
  deps: AuthDeps,
  token: string,
): Promise<RegistryCredential | null> {
  const cred = await deps.tokens.verify(token);
  if (!cred) return null;
  const allowed = await allowedNow(deps.db, {
    source: cred.source,
    accountId: cred.principal.account.id,
    userId: cred.principal.user.id,
    region: deps.region,
    now: (deps.now ? deps.now() : new Date()).toISOString(),
  });
  if (!allowed) return null;
  // What the credential allows now bounds what its bearer tokens may do.
  return { ...cred, allowed: cred.allowed.filter((a) => allowed.includes(a)) };
}
