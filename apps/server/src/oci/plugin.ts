import { repositoryNameProblem } from "@berth/core";
import {
  type AuthDeps,
  BearerTokens,
  CredentialGoneError,
  collectBlobs,
  missing,
  OciFailure,
  permits,
  permitsCatalog,
  purgeExpiredTrash,
  type RegistryCredential,
  type RepositoryAction,
  recordRefusal,
  requestedImageName,
} from "@berth/registry";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { BerthPlugin, RegionAppDeps } from "../berth-plugin";
import {
  type AuthOutcome,
  authenticateRequest,
  bearerChallenge,
  confirmCredential,
  contextOf,
  refuseRateLimited,
  refuseUnauthenticated,
} from "./auth";
import { getBlob, headBlob, removeBlob } from "./blobs";
import { type OciCall, queryParam } from "./call";
import { getCatalog, getReferrers, getTags } from "./listing";
import { getManifest, headManifest, putManifest, removeManifest } from "./manifests";
import { API_VERSION, API_VERSION_HEADER, sendError, sendErrorInfo } from "./reply";
import { METHODS, matchRoute, type OciRoute, requirementOf, scopeFor } from "./routes";
import { tokenRoutes } from "./token";
import { deleteUpload, getUpload, patchUpload, postUpload, putUpload } from "./uploads";

export interface OciRoutesOptions {
  /**
   * HMAC key of the bearer tokens (at least 32 bytes). Processes serving one region must
   * share it; default: the app's `tokenSecret` (BERTH_TOKEN_SECRET or the data dir's key),
   * else random per process (tokens last minutes; clients ask again).
   */
  tokenSecret?: string;
  tokenTtlSeconds?: number;
  /** How often the server collects abandoned uploads and unreferenced blobs; 0 never. Default hourly. */
  gcIntervalMs?: number;
}

const HOUR = 60 * 60 * 1000;
const collecting = new WeakSet<object>();

/** The service name of a region's registry: the audience of its bearer tokens. */
export function registryService(region: string): string {
  return `berth-registry-${region}`;
}

/**
 * The OCI distribution API (`/v2`) and its token endpoint (`/token`) of one region's
 * listener. Blob bodies are never parsed by fastify: handlers stream the raw request to
 * storage, hashing as it goes.
 */
export function createOciRoutes(opts: OciRoutesOptions = {}): BerthPlugin {
  return async (app, deps) => {
    const secret = opts.tokenSecret ?? deps.tokenSecret;
    const tokens = new BearerTokens({
      service: registryService(deps.region),
      ...(secret ? { secret } : {}),
      ...(opts.tokenTtlSeconds ? { ttlSeconds: opts.tokenTtlSeconds } : {}),
      ...(deps.now ? { now: deps.now } : {}),
    });
    const auth: AuthDeps & { tokens: BearerTokens } = {
      db: deps.db,
      region: deps.region,
      tokens,
      ...(deps.now ? { now: deps.now } : {}),
    };
    await app.register(async (v2) => {
      v2.removeAllContentTypeParsers();
      v2.addContentTypeParser("*", (_req, payload, done) => done(null, payload));
      // Fastify refuses some requests before a handler runs (a Content-Type that is not a
      // media type): answered in the distribution API's error shape like everything here.
      v2.setErrorHandler((error: FastifyError, req, reply) => {
        reply.header(API_VERSION_HEADER, API_VERSION);
        const status = error.statusCode ?? 500;
        if (status >= 400 && status < 500) {
          const message =
            error.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || status === 415
              ? `the Content-Type header ${JSON.stringify(req.headers["content-type"] ?? "")} is not a media type`
              : error.message;
          return sendErrorInfo(req, reply, { code: "UNSUPPORTED", status, message });
        }
        return sendError(req, reply, error);
      });
      const handler = (req: FastifyRequest, reply: FastifyReply) => handle(deps, auth, req, reply);
      v2.route({
        method: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        url: "/v2",
        handler,
        exposeHeadRoute: false,
      });
      v2.route({
        method: ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        url: "/v2/*",
        handler,
        exposeHeadRoute: false,
      });
    });
    await app.register(async (t) => tokenRoutes(t, deps, auth));
    scheduleCollection(app, deps, opts.gcIntervalMs ?? HOUR);
  };
}

/** The plugin as the server registers it. */
export const ociRoutes: BerthPlugin = createOciRoutes();

/**
 * Periodic garbage collection inside the server (the embedded database serves one process,
 * so the `gc` command cannot run beside it). One timer per blob store, whatever the
 * number of region listeners sharing it.
 */
function scheduleCollection(app: FastifyInstance, deps: RegionAppDeps, intervalMs: number): void {
  if (intervalMs <= 0 || collecting.has(deps.store)) return;
  collecting.add(deps.store);
  const timer = setInterval(() => {
    purgeExpiredTrash(deps.db, deps.store)
      .then(() => collectBlobs(deps.db, deps.store))
      .then(
        (report) => app.log.info({ gc: { ...report, removed: report.removed.length } }, "blob GC"),
        (err: unknown) => app.log.error({ err }, "blob GC failed"),
      );
  }, intervalMs);
  timer.unref();
  app.addHook("onClose", async () => {
    clearInterval(timer);
    collecting.delete(deps.store);
  });
}

async function handle(
  deps: RegionAppDeps,
  auth: AuthDeps & { tokens: BearerTokens },
  req: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  reply.header(API_VERSION_HEADER, API_VERSION);
  const path = req.url.split("?", 1)[0]!;
  const route = matchRoute(path);
  if (!route) {
    return sendErrorInfo(req, reply, {
      code: "UNSUPPORTED",
      status: 404,
      message: `no endpoint at ${path}`,
    });
  }
  if (!METHODS[route.kind].includes(req.method)) {
    return sendErrorInfo(
      req,
      reply,
      { code: "UNSUPPORTED", status: 405, message: `${req.method} is not supported here` },
      { allow: METHODS[route.kind].join(", ") },
    );
  }
  const needs = requirementOf(route, req.method);
  const name = "name" in route ? route.name : undefined;
  const scope =
    needs && name !== undefined
      ? withMountSource(scopeFor(name, needs.action), route, req)
      : route.kind === "catalog"
        ? "registry:catalog:*"
        : undefined;
  const service = auth.tokens.service;
  if (req.headers.authorization !== undefined) {
    const wait = deps.authLimit?.blockedFor(req.ip) ?? 0;
    if (wait > 0) return refuseRateLimited(deps, req, reply, wait, "v2");
  }
  // The reads of a pull, the chunks of an upload and the start of one check a bearer
  // token's credential in their own first query. A mount or a monolithic upload may be
  // refused (and audited) before its first query: checked here.
  const deferCheck =
    (route.kind === "manifest" && req.method === "GET") ||
    (route.kind === "blob" && req.method !== "DELETE") ||
    (route.kind === "upload" && req.method !== "GET") ||
    (route.kind === "uploads" &&
      req.method === "POST" &&
      queryParam(req, "mount") === undefined &&
      queryParam(req, "digest") === undefined);
  const refuse = (reason: "missing" | "invalid") => {
    if (reason === "invalid") deps.authLimit?.failed(req.ip);
    return refuseUnauthenticated(deps, service, req, reply, reason, scope);
  };
  let outcome: AuthOutcome;
  let refusal: Refusal;
  try {
    outcome = await authenticateRequest(auth, req, deferCheck);
    if (!outcome.ok) return refuse(outcome.reason);
    refusal = needs && name !== undefined ? refusalOf(outcome.cred, name, needs.action) : null;
    // A refused request goes no further: its credential is checked here, as without deferral.
    if (refusal !== null && outcome.unconfirmed !== undefined) {
      outcome = await confirmCredential(auth, outcome);
      if (!outcome.ok) return refuse(outcome.reason);
      refusal = refusalOf(outcome.cred, name!, needs!.action);
    }
  } catch (error) {
    // The credential could not be checked (database unavailable): no verdict on it.
    return sendError(req, reply, error);
  }
  const { cred } = outcome;
  const ctx = contextOf(deps, req, cred);
  const call: OciCall = {
    req,
    reply,
    ctx,
    cred,
    ...(deps.maxBlobBytes ? { maxBlobBytes: deps.maxBlobBytes } : {}),
    ...(outcome.unconfirmed !== undefined ? { unconfirmed: cred.source } : {}),
  };
  try {
    if (refusal === "scope") {
      req.log.info({ scope }, "token lacks the scope");
      return sendErrorInfo(
        req,
        reply,
        { code: "UNAUTHORIZED", status: 401, message: `the token does not grant ${scope}` },
        { "www-authenticate": bearerChallenge(req, service, scope, "insufficient_scope") },
      );
    }
    if (refusal && needs && name !== undefined) {
      const target = route.kind === "manifest" ? requestedImageName(name, route.reference) : name;
      throw needs.audit ? await recordRefusal(ctx, needs.audit, target, refusal) : refusal;
    }
    if (route.kind === "catalog" && !permitsCatalog(cred)) {
      return sendErrorInfo(
        req,
        reply,
        { code: "UNAUTHORIZED", status: 401, message: "the token does not grant the catalog" },
        { "www-authenticate": bearerChallenge(req, service, scope, "insufficient_scope") },
      );
    }
    return await dispatch(route, req.method, call);
  } catch (error) {
    if (error instanceof CredentialGoneError) return refuse("invalid");
    // A request refused before its use case asked about the credential: asked now, so
    // that a gone credential hears only that it is unauthenticated.
    if (call.unconfirmed && !reply.sent) {
      const confirmed = await confirmCredential(auth, outcome).catch(() => outcome);
      if (!confirmed.ok) return refuse(confirmed.reason);
    }
    if (reply.sent) {
      // The error came while streaming the response: nothing left to tell the client.
      req.log.warn({ err: error }, "OCI response interrupted");
      return reply;
    }
    return sendError(req, reply, error);
  }
}

/** Why a credential may not do what the request needs: null when it may. */
type Refusal = OciFailure | "scope" | null;

function refusalOf(cred: RegistryCredential, name: string, action: RepositoryAction): Refusal {
  const problem = repositoryNameProblem(name);
  if (problem) return new OciFailure("NAME_INVALID", problem);
  if (permits(cred, name, action)) return null;
  return missing(cred, action) === "denied"
    ? new OciFailure(
        "DENIED",
        `requested access to the resource is denied: the credential does not allow ${action}`,
      )
    : "scope";
}

/**
 * A cross-repository mount needs pull on its source too: its challenge names both scopes,
 * space-separated as distribution writes them, so the client's token covers the mount.
 * Only a valid repository name is added (it goes into a header).
 */
function withMountSource(scope: string, route: OciRoute, req: FastifyRequest): string {
  if (route.kind !== "uploads" || req.method !== "POST") return scope;
  const mount = queryParam(req, "mount");
  const from = queryParam(req, "from");
  if (mount === undefined || from === undefined || repositoryNameProblem(from)) return scope;
  return `${scope} ${scopeFor(from, "pull")}`;
}

async function dispatch(route: OciRoute, method: string, call: OciCall): Promise<FastifyReply> {
  switch (route.kind) {
    case "base":
      return call.reply.code(200).type("application/json").send("{}");
    case "catalog":
      return getCatalog(call);
    case "tags":
      return getTags({ ...call, name: route.name });
    case "referrers":
      return getReferrers({ ...call, name: route.name, digest: route.digest });
    case "manifest": {
      const c = { ...call, name: route.name, reference: route.reference };
      if (method === "PUT") return putManifest(c);
      if (method === "DELETE") return removeManifest(c);
      return method === "HEAD" ? headManifest(c) : getManifest(c);
    }
    case "blob": {
      const c = { ...call, name: route.name, digest: route.digest };
      if (method === "DELETE") return removeBlob(c);
      return method === "HEAD" ? headBlob(c) : getBlob(c);
    }
    case "uploads":
      return postUpload({ ...call, name: route.name });
    case "upload": {
      const c = { ...call, name: route.name, id: route.id };
      if (method === "PATCH") return patchUpload(c);
      if (method === "PUT") return putUpload(c);
      if (method === "DELETE") return deleteUpload(c);
      return getUpload(c);
    }
  }
}
