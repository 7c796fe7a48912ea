import { type AppRouter, appRouter, createContextFactory, MAX_BATCH_SIZE } from "@berth/api";
import type { TRPCError } from "@trpc/server";
import {
  type CreateFastifyContextOptions,
  type FastifyTRPCPluginOptions,
  fastifyRequestHandler,
} from "@trpc/server/adapters/fastify";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { BerthPlugin } from "../berth-plugin";
import { answerJsonCalls } from "./trpc-json";

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
  const contextOf = (req: FastifyRequest, reply: FastifyReply) =>
    createContext({
      headers: req.headers,
      requestId: req.id,
      clientIp: req.ip,
      userAgent: req.headers["user-agent"] ?? "",
      setHeader: (name, value) => void reply.header(name, value),
    });
  const onError = ({
    error,
    path,
    req,
  }: {
    error: TRPCError;
    path?: string;
    req: FastifyRequest;
  }) => {
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
  };
  const trpcOptions = {
    router: appRouter,
    // One HTTP request is at most this many calls (each may be a transaction); larger
    // batches are refused with 400. The typed client batches no more than this.
    maxBatchSize: MAX_BATCH_SIZE,
    createContext: ({ req, res }: CreateFastifyContextOptions) => contextOf(req, res),
    onError,
  } satisfies FastifyTRPCPluginOptions<AppRouter>["trpcOptions"];
  const jsonCalls = {
    router: appRouter,
    maxBatchSize: MAX_BATCH_SIZE,
    createContext: contextOf,
    onError,
  };
  await app.register(
    async (scope) => {
      // As tRPC's fastify plugin does: tRPC parses the bodies itself.
      scope.removeContentTypeParser("application/json");
      scope.addContentTypeParser("application/json", { parseAs: "string" }, (_, body, done) =>
        done(null, body),
      );
      scope.removeContentTypeParser("multipart/form-data");
      scope.addContentTypeParser("multipart/form-data", {}, (_, body, done) => done(null, body));
      scope.all<{ Params: { path: string } }>("/:path", async (req, reply) => {
        const path = req.params.path;
        if (await answerJsonCalls(jsonCalls, req, reply, path)) return;
        await fastifyRequestHandler({ ...trpcOptions, req, res: reply, path });
      });
    },
    { prefix: "/trpc" },
  );
};
