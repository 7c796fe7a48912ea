import type { RegionName, RoutingTable } from "@berth/core";
import { DATABASE_UNAVAILABLE_MESSAGE, type Db, isDatabaseUnavailable } from "@berth/db";
import {
  type BlobStore,
  hashSecret,
  type Principal,
  type RegistryContext,
  resolveApiKey,
} from "@berth/registry";
import { createTrackerClient, type TrackerClient } from "@berth/tracker-client";
import { TRPCError } from "@trpc/server";

/** What the API needs from the process: shared by every request of a region's listener. */
export interface ApiDeps {
  db: Db;
  store: BlobStore;
  /** Region of the listener; a request's region is the region of the endpoint it reached. */
  region: RegionName;
  /** Called when a request carried no valid credential (counted in metrics; never audited). */
  onUnauthenticated?: (reason: "missing" | "invalid") => void;
  /** An unexpected error that a procedure reports as data rather than throws (image.build). */
  onInternalError?: (error: unknown, procedure: string) => void;
  now?: () => Date;
  /** Days a deleted image stays in the trash (BERTH_TRASH_DAYS; default 30). */
  trashDays?: number;
  /**
   * The tracker that `events.query` and `events.tail` read (BERTH_TRACKER_URL and the
   * tracker's query key). Without it those procedures answer that events are unavailable.
   */
  tracker?: { url: string; queryKey: string; fetch?: typeof fetch };
  /** Routing of event regions to tracker regions: picks the default region of `events.*`. */
  routing?: RoutingTable;
  /** Open `events.tail` subscriptions per account on this listener (default 10). */
  maxTailsPerAccount?: number;
  /**
   * Failed authentications per client address: a source over its limit is refused with
   * TOO_MANY_REQUESTS before its key is looked at; every invalid key counts.
   */
  authLimit?: { blockedFor(source: string): number; failed(source: string): void };
  /** Called when a request is refused by `authLimit` (metrics). */
  onRateLimited?: () => void;
}

/** Per-request facts the HTTP layer extracts, framework-independent. */
export interface RequestInfo {
  headers: Record<string, string | string[] | undefined>;
  /** The request id (incoming x-request-id or generated); it becomes the events' correlationId. */
  requestId: string;
  clientIp: string;
  userAgent: string;
  /** Set a response header (Retry-After of a rate-limited request). */
  setHeader?: (name: string, value: string) => void;
}

export interface ApiContext {
  deps: ApiDeps;
  region: RegionName;
  requestId: string;
  clientIp: string;
  userAgent: string;
  /** Null when the request carried no valid API key. */
  principal: Principal | null;
  /** Why principal is null, when it is. */
  authProblem?: "missing" | "invalid";
  /** Client of the tracker's export and tail APIs, when one is configured. */
  tracker?: TrackerClient;
}

/**
 * The API key of a request: `Authorization: Bearer <key>`, or the `x-api-key` header.
 * Returns undefined when neither is present.
 */
export function apiKeyFrom(headers: RequestInfo["headers"]): string | undefined {
  const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
  const auth = first(headers.authorization);
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : "";
  }
  const key = first(headers["x-api-key"]);
  return key === undefined ? undefined : key.trim();
}

/** Builds the tRPC context of a request: resolves its API key to an account and user. */
export function createContextFactory(deps: ApiDeps) {
  const tracker = deps.tracker ? createTrackerClient(deps.tracker) : undefined;
  const keys = verifiedKeys(deps.db);
  return async (info: RequestInfo): Promise<ApiContext> => {
    const key = apiKeyFrom(info.headers);
    if (key !== undefined) {
      const wait = deps.authLimit?.blockedFor(info.clientIp) ?? 0;
      if (wait > 0) {
        deps.onRateLimited?.();
        const seconds = Math.max(1, Math.ceil(wait / 1000));
        info.setHeader?.("retry-after", String(seconds));
        throw new TRPCError({
          code: "TOO_MANY_REQUESTS",
          message: `too many failed authentication attempts from this address; try again in ${seconds} s`,
        });
      }
    }
    const principal = key ? await keys.resolve(key) : null;
    if (key !== undefined && !principal) deps.authLimit?.failed(info.clientIp);
    return {
      deps,
      region: deps.region,
      requestId: info.requestId,
      clientIp: info.clientIp,
      userAgent: info.userAgent,
      principal,
      ...(principal ? {} : { authProblem: key === undefined ? "missing" : "invalid" }),
      ...(tracker ? { tracker } : {}),
    };
  };
}

/**
 * How long a key this listener verified is taken on trust without asking the database. A
 * client's calls then cost a lookup a few times a second instead of one each (for `whoami`
 * the lookup was the whole of its database work). API keys are deleted by removing their row:
 * a key deleted within this window of its last verification still works for what is left of
 * it, a quarter of a second at most. Unknown keys are never remembered: each one counts as a
 * failed authentication, as before.
 */
export const KEY_TRUSTED_MS = 250;
const KEYS_REMEMBERED = 10_000;

function verifiedKeys(db: Db) {
  /** By the key's SHA-256 (never the key itself): the principal, and until when it holds. */
  const verified = new Map<string, { principal: Principal; until: number }>();
  return {
    async resolve(key: string): Promise<Principal | null> {
      const hash = hashSecret(key);
      const now = performance.now();
      const known = verified.get(hash);
      if (known && known.until > now) return known.principal;
      const principal = await resolveKey(db, key);
      if (!principal) {
        verified.delete(hash);
      } else {
        if (verified.size >= KEYS_REMEMBERED) verified.clear();
        verified.set(hash, { principal, until: performance.now() + KEY_TRUSTED_MS });
      }
      return principal;
    },
  };
}

/**
 * The principal of an API key. An unreachable database is SERVICE_UNAVAILABLE (the key may
 * be fine), never taken for an invalid key nor reported as an internal error.
 */
async function resolveKey(db: Db, key: string): Promise<Principal | null> {
  try {
    return await resolveApiKey(db, key);
  } catch (error) {
    if (!isDatabaseUnavailable(error)) throw error;
    throw new TRPCError({
      code: "SERVICE_UNAVAILABLE",
      message: DATABASE_UNAVAILABLE_MESSAGE,
      cause: error,
    });
  }
}

/** The use-case context of an authenticated request. */
export function registryContext(ctx: ApiContext, principal: Principal): RegistryContext {
  return {
    db: ctx.deps.db,
    store: ctx.deps.store,
    region: ctx.region,
    principal,
    requestId: ctx.requestId,
    clientIp: ctx.clientIp,
    userAgent: ctx.userAgent,
    ...(ctx.deps.now ? { now: ctx.deps.now } : {}),
    ...(ctx.deps.trashDays ? { trashDays: ctx.deps.trashDays } : {}),
  };
}
