import type { RegionName, RoutingTable } from "@berth/core";
import type { Db } from "@berth/db";
import { type BlobStore, type BuildLimits, setBuildLimits } from "@berth/registry";
import type { FastifyInstance } from "fastify";
import type { DestinationStream, Logger } from "pino";
import { buildApp } from "./app";
import { AUTH_LIMIT_DEFAULTS, AuthFailureLimiter, type AuthLimitOptions } from "./auth-limit";
import type { BerthPlugin } from "./berth-plugin";
import type { RegionListener } from "./config";
import { createLogger } from "./logger";
import { createMetrics, type ServerMetrics } from "./metrics";
import { CLIENT_TIMEOUT_DEFAULTS, type ClientTimeouts } from "./slow-clients";

export interface StartServerOptions {
  db: Db;
  store: BlobStore;
  /** One listener per region; port 0 picks a free port. */
  regions: RegionListener[];
  host?: string;
  /** A ready logger, or a level and destination for a new one. */
  logger?: Logger;
  logLevel?: string;
  logDestination?: DestinationStream;
  plugins?: BerthPlugin[];
  now?: () => Date;
  /** The tracker `events.*` read (URL and query key); without it they are unavailable. */
  tracker?: { url: string; queryKey: string };
  /** Routing table: the default tracker region of a listener's `events.*`. */
  routing?: RoutingTable;
  /** HMAC key of bearer tokens (see RegionAppDeps); absent: random per process. */
  tokenSecret?: string;
  /** How long close() lets in-flight requests finish before it ends their connections. */
  closeGraceMs?: number;
  /** Failed authentications allowed per source and window (default 30 a minute; 0: off). */
  authLimit?: Partial<AuthLimitOptions>;
  /** Proxies whose X-Forwarded-For names the client (addresses, CIDR ranges); default none. */
  trustedProxies?: string[];
  /** Idle connections and slow request bodies (default CLIENT_TIMEOUT_DEFAULTS). */
  timeouts?: Partial<ClientTimeouts>;
  /** Largest blob a push may upload (default DEFAULT_MAX_BLOB_BYTES). */
  maxBlobBytes?: number;
  /** Days a deleted image stays in the trash (default DEFAULT_TRASH_DAYS). */
  trashDays?: number;
  /** Staged build contexts and concurrent builds (the process's; default BUILD_LIMIT_DEFAULTS). */
  builds?: Partial<BuildLimits>;
}

export interface RunningServer {
  /** Base URL of each region's endpoint. */
  urls: Partial<Record<RegionName, string>>;
  apps: Partial<Record<RegionName, FastifyInstance>>;
  metrics: ServerMetrics;
  logger: Logger;
  /**
   * Stop accepting, let in-flight requests finish for a grace period, then end the
   * connections still open (live subscriptions never finish by themselves); close every
   * listener.
   */
  close(): Promise<void>;
}

/** Default of StartServerOptions.closeGraceMs. */
export const CLOSE_GRACE_MS = 2_000;

/**
 * fastify's close waits for every open connection, and an SSE subscription (events.tail, a
 * build) or a client that stops sending mid-body stays open as long as the client likes: after
 * `graceMs`, what is still open is ended, and the subscriptions see their clients go.
 */
async function closeApps(apps: FastifyInstance[], graceMs: number): Promise<void> {
  const force = setTimeout(() => {
    for (const app of apps) {
      (app.server as { closeAllConnections?: () => void }).closeAllConnections?.();
    }
  }, graceMs);
  try {
    await Promise.allSettled(apps.map((a) => a.close()));
  } finally {
    clearTimeout(force);
  }
}

/**
 * Serve the registry's HTTP API: one fastify app and listener per region, sharing the
 * database, the blob store, the logger and the metrics registry.
 */
export async function startServer(opts: StartServerOptions): Promise<RunningServer> {
  if (opts.regions.length === 0) throw new Error("startServer needs at least one region");
  const host = opts.host ?? "127.0.0.1";
  const logger =
    opts.logger ??
    createLogger({
      ...(opts.logLevel ? { level: opts.logLevel } : {}),
      ...(opts.logDestination ? { destination: opts.logDestination } : {}),
    });
  if (opts.builds) setBuildLimits(opts.builds);
  const metrics = createMetrics();
  const authLimit = new AuthFailureLimiter({ ...AUTH_LIMIT_DEFAULTS, ...opts.authLimit });
  const urls: RunningServer["urls"] = {};
  const apps: RunningServer["apps"] = {};
  const started: FastifyInstance[] = [];
  try {
    for (const { region, port } of opts.regions) {
      const app = await buildApp({
        region,
        db: opts.db,
        store: opts.store,
        metrics,
        logger,
        ...(opts.plugins ? { plugins: opts.plugins } : {}),
        ...(opts.now ? { now: opts.now } : {}),
        ...(opts.tracker ? { tracker: opts.tracker } : {}),
        ...(opts.routing ? { routing: opts.routing } : {}),
        ...(opts.tokenSecret ? { tokenSecret: opts.tokenSecret } : {}),
        authLimit,
        ...(opts.trustedProxies?.length ? { trustedProxies: opts.trustedProxies } : {}),
        timeouts: { ...CLIENT_TIMEOUT_DEFAULTS, ...opts.timeouts },
        ...(opts.maxBlobBytes ? { maxBlobBytes: opts.maxBlobBytes } : {}),
        ...(opts.trashDays ? { trashDays: opts.trashDays } : {}),
      });
      started.push(app);
      await app.listen({ host, port });
      const address = app.server.address();
      const actual = typeof address === "object" && address ? address.port : port;
      urls[region] = `http://${host.includes(":") ? `[${host}]` : host}:${actual}`;
      apps[region] = app;
    }
  } catch (error) {
    await Promise.allSettled(started.map((a) => a.close()));
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    urls,
    apps,
    metrics,
    logger,
    close() {
      closing ??= closeApps(started, opts.closeGraceMs ?? CLOSE_GRACE_MS);
      return closing;
    },
  };
}
