import { type AppRouter, appRouter, createContextFactory, MAX_BATCH_SIZE } from "@berth/api";
import {
  type CreateFastifyContextOptions,
  type FastifyTRPCPluginOptions,
  fastifyTRPCPlugin,
} from "@trpc/server/adapters/fastify";
import type { BerthPlugin } from "../berth-plugin";

/** The management API at `/trpc`. */
export const trpcRoutes: BerthPlugin = async (app, deps) => {
  const createContext = createContextFactory({
    db: deps.db,
    store: deps.store,
    region: deps.region,
    onUnauthenticated: (reason) =>
      deps.metrics.unauthenticated.inc({ region: deps.region, reason }),
    ...(deps.authLimit
      ? {
          authLimit: deps.authLimit,
          onRateLimited: () =>
            deps.metrics.rateLimited.inc({ region: deps.region, surface: "trpc" }),
        }
      : {}),
    onInternalError: (err, procedure) => app.log.error({ err, procedure }, "procedure failed"),
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.trashDays ? { trashDays: deps.trashDays } : {}),
    ...(deps.tracker ? { tracker: deps.tracker } : {}),
    ...(deps.routing ? { routing: deps.routing } : {}),
  });
  await app.register(fastifyTRPCPlugin, {
    prefix: "/trpc",
    trpcOptions: {
      router: appRouter,
      // One HTTP request is at most this many calls (each may be a transaction); larger
      // batches are refused with 400. The typed client batches no more than this.
      maxBatchSize: MAX_BATCH_SIZE,
      createContext: ({ req, res }: CreateFastifyContextOptions) =>
        createContext({
          headers: req.headers,
          requestId: req.id,
          clientIp: req.ip,
          userAgent: req.headers["user-agent"] ?? "",
          setHeader: (name, value) => void res.header(name, value),
        }),
      onError({ error, path, req }) {
        const log = req.log;
        if (error.code === "INTERNAL_SERVER_ERROR") {
          log.error({ err: error.cause ?? error, procedure: path }, "procedure failed");
        } else if (error.code === "UNAUTHORIZED") {
          log.warn({ procedure: path }, "unauthenticated request refused");
        } else {
          // The cause holds what the caller is not told (a tracker's URL and answer).
          log.info(
            { procedure: path, code: error.code, reason: error.message, err: error.cause },
            "procedure refused",
          );
        }
      },
    } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"],
  });
};
