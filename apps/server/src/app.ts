import { reasonType } from "@berth/core";
import { toRegistryError } from "@berth/registry";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import Fastify from "fastify";
import type { Logger } from "pino";
import type { BerthPlugin, RegionAppDeps } from "./berth-plugin";
import { ociRoutes } from "./oci/plugin";
import { answerUnroutable, RETRY_AFTER_SECONDS } from "./oci/reply";
import { buildContextRoutes } from "./plugins/build-context";
import { healthRoutes } from "./plugins/health";
import { metricsRoutes } from "./plugins/metrics";
import { trpcRoutes } from "./plugins/trpc";
import { REQUEST_ID_HEADER, requestIdOf } from "./request-id";
import { CLIENT_TIMEOUT_DEFAULTS, guardBodyRate } from "./slow-clients";

export interface BuildAppOptions extends RegionAppDeps {
  logger: Logger;
  /** Plugins registered after the built-in ones (tests, experiments). */
  plugins?: BerthPlugin[];
  /**
   * Proxies (addresses, CIDR ranges) whose X-Forwarded-For is believed: the client address
   * (`req.ip`, the auth limit's source, events' initiator address) is then the right-most
   * address of it that is not one of them. Absent: the TCP peer, whatever the headers say.
   */
  trustedProxies?: string[];
}

/**
 * The route plugins of a region's endpoint, in one place. The OCI distribution API
 * (`/v2`) and its token endpoint (`/token`) are added here as plugins of their own.
 */
export const ROUTE_PLUGINS: BerthPlugin[] = [
  healthRoutes,
  metricsRoutes,
  trpcRoutes,
  ociRoutes,
  buildContextRoutes,
];

/**
 * What a route that threw gets answered (routes with their own error format, /trpc and
 * /v2, catch theirs first). Fastify's default answer carries the error's message, which
 * for a failed query is its SQL and parameters: 5xx answers say only what the client can
 * act on, and the details go to the log.
 */
function answerError(
  error: { statusCode?: number; message: string },
  req: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  // Fastify's own refusals (a body too large, malformed JSON) carry a 4xx and say why.
  if (error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500) {
    req.log.info({ status: error.statusCode, reason: error.message }, "request refused");
    return reply.code(error.statusCode).send({
      statusCode: error.statusCode,
      error: reasonType(error.statusCode),
      message: error.message,
    });
  }
  const failure = toRegistryError(error);
  if (failure.code === "INTERNAL") {
    req.log.error({ err: error }, "request failed");
    return reply
      .code(500)
      .send({ statusCode: 500, error: "Internal Server Error", message: "internal error" });
  }
  if (failure.status >= 500) req.log.warn({ err: error }, failure.message);
  else req.log.info({ status: failure.status, reason: failure.message }, "request refused");
  if (failure.status === 503) reply.header("retry-after", RETRY_AFTER_SECONDS);
  return reply.code(failure.status).send({
    statusCode: failure.status,
    error: reasonType(failure.status),
    message: failure.message,
  });
}

/** The fastify app of one region's listener. */
export async function buildApp(opts: BuildAppOptions): Promise<FastifyInstance> {
  const { logger, plugins = [], trustedProxies, ...deps } = opts;
  const timeouts = deps.timeouts ?? CLIENT_TIMEOUT_DEFAULTS;
  const app = Fastify({
    loggerInstance: logger.child({ region: deps.region }),
    // No traffic either way for this long: the connection goes (bodies of any size stream,
    // so there is no cap on a request's total time; see guardBodyRate for tricklers).
    connectionTimeout: timeouts.idleMs,
    genReqId: requestIdOf,
    requestIdHeader: false,
    ...(trustedProxies?.length ? { trustProxy: trustedProxies } : {}),
    // tRPC batches put several procedure names in one path segment.
    routerOptions: { maxParamLength: 5000 },
    frameworkErrors: answerUnroutable,
  }) as unknown as FastifyInstance;

  app.addHook("onRequest", async (req, reply) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    guardBodyRate(req, timeouts, (rate) => {
      deps.metrics.slowClientsCut.inc({ region: deps.region });
      req.log.warn(
        { bytesPerSecond: Math.round(rate), minimum: timeouts.minBodyBytesPerSecond },
        "request body too slow: connection closed",
      );
    });
  });
  app.setErrorHandler(answerError);
  app.addHook("onResponse", async (req, reply) => {
    const labels = {
      region: deps.region,
      method: req.method,
      // The route pattern, never the raw URL: bounded label values.
      route: req.routeOptions.url ?? "unmatched",
      status: String(reply.statusCode),
    };
    deps.metrics.requests.inc(labels);
    deps.metrics.duration.observe(labels, reply.elapsedTime / 1000);
  });

  for (const plugin of [...ROUTE_PLUGINS, ...plugins]) await app.register(plugin, deps);
  return app;
}
