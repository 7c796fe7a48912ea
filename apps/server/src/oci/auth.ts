import {
  type AuthDeps,
  authenticate,
  type BearerTokens,
  parseAuthorization,
  type RegistryContext,
  type RegistryCredential,
  verifyBearer,
} from "@berth/registry";
import type { FastifyReply, FastifyRequest } from "fastify";
import { retryAfterSeconds, tooManyFailuresMessage } from "../auth-limit";
import type { RegionAppDeps } from "../berth-plugin";
import { sendErrorInfo } from "./reply";

export const TOKEN_PATH = "/token";

export type AuthOutcome =
  | {
      ok: true;
      cred: RegistryCredential;
      /**
       * Set when only the bearer token's signature and claims were checked: whether the
       * credential it was made from still holds is left to the use case's own query
       * (`confirmCredential` checks it when the request goes no further than the checks).
       */
      unconfirmed?: string;
    }
  | { ok: false; reason: "missing" | "invalid" };

/**
 * The credential of a request's Authorization header (Basic or Bearer). With `deferCheck`,
 * a bearer token is verified without looking its credential up (see `unconfirmed`).
 */
export async function authenticateRequest(
  deps: AuthDeps & { tokens: BearerTokens },
  req: FastifyRequest,
  deferCheck = false,
): Promise<AuthOutcome> {
  const header = req.headers.authorization;
  if (!header) return { ok: false, reason: "missing" };
  const parsed = parseAuthorization(header);
  if (deferCheck && parsed?.scheme === "bearer") {
    const cred = await deps.tokens.verify(parsed.token);
    return cred ? { ok: true, cred, unconfirmed: parsed.token } : { ok: false, reason: "invalid" };
  }
  const cred = parsed ? await authenticate(deps, parsed) : null;
  return cred ? { ok: true, cred } : { ok: false, reason: "invalid" };
}

/** An `unconfirmed` outcome checked in full (the credential looked up), as without deferral. */
export async function confirmCredential(
  deps: AuthDeps,
  outcome: AuthOutcome,
): Promise<AuthOutcome> {
  if (!outcome.ok || outcome.unconfirmed === undefined) return outcome;
  const cred = await verifyBearer(deps, outcome.unconfirmed);
  return cred ? { ok: true, cred } : { ok: false, reason: "invalid" };
}

/** The `WWW-Authenticate` challenge pointing clients at the token endpoint. */
export function bearerChallenge(
  req: FastifyRequest,
  service: string,
  scope?: string,
  error?: "invalid_token" | "insufficient_scope",
): string {
  const realm = `${req.protocol}://${req.host}${TOKEN_PATH}`;
  const parts = [`realm="${realm}"`, `service="${service}"`];
  if (scope) parts.push(`scope="${scope}"`);
  if (error) parts.push(`error="${error}"`);
  return `Bearer ${parts.join(",")}`;
}

/**
 * Refuse a request without a usable credential: 401 with the challenge. There is no
 * account to audit, so it is counted and logged instead.
 */
export function refuseUnauthenticated(
  deps: RegionAppDeps,
  service: string,
  req: FastifyRequest,
  reply: FastifyReply,
  reason: "missing" | "invalid",
  scope?: string,
): FastifyReply {
  deps.metrics.unauthenticated.inc({ region: deps.region, reason });
  req.log.info({ reason }, "unauthenticated registry request refused");
  return sendErrorInfo(
    req,
    reply,
    {
      code: "UNAUTHORIZED",
      status: 401,
      message:
        reason === "missing" ? "authentication required" : "the credentials are invalid or expired",
    },
    {
      "www-authenticate": bearerChallenge(
        req,
        service,
        scope,
        reason === "invalid" && req.headers.authorization?.toLowerCase().startsWith("bearer")
          ? "invalid_token"
          : undefined,
      ),
    },
  );
}

/**
 * Refuse a request whose source failed authentication too often (429 TOOMANYREQUESTS with
 * Retry-After), before its credential is checked. Counted; not audited (no account).
 */
export function refuseRateLimited(
  deps: RegionAppDeps,
  req: FastifyRequest,
  reply: FastifyReply,
  waitMs: number,
  surface: "v2" | "token",
): FastifyReply {
  deps.metrics.rateLimited.inc({ region: deps.region, surface });
  req.log.warn({ waitMs }, "authentication rate limit: request refused");
  return sendErrorInfo(
    req,
    reply,
    { code: "TOOMANYREQUESTS", status: 429, message: tooManyFailuresMessage(waitMs) },
    { "retry-after": retryAfterSeconds(waitMs) },
  );
}

/** The use-case context of an authenticated request. */
export function contextOf(
  deps: RegionAppDeps,
  req: FastifyRequest,
  cred: RegistryCredential,
): RegistryContext {
  return {
    db: deps.db,
    store: deps.store,
    region: deps.region,
    principal: cred.principal,
    requestId: req.id,
    clientIp: req.ip ?? "",
    userAgent: req.headers["user-agent"] ?? "",
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.trashDays ? { trashDays: deps.trashDays } : {}),
  };
}
