import { isDatabaseUnavailable } from "@berth/db";
import {
  RegistryError,
  type RegistryErrorCode,
  toRegistryError,
  zodMessage,
} from "@berth/registry";
import { initTRPC, TRPCError } from "@trpc/server";
import type { TRPC_ERROR_CODE_KEY } from "@trpc/server/rpc";
import { ZodError } from "zod";
import { type ApiContext, registryContext } from "./context";

const TRPC_CODES: Record<RegistryErrorCode, TRPC_ERROR_CODE_KEY> = {
  BAD_REQUEST: "BAD_REQUEST",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  QUOTA_EXCEEDED: "FORBIDDEN",
  PLAN_LIMIT: "FORBIDDEN",
  INTERNAL: "INTERNAL_SERVER_ERROR",
  UNAVAILABLE: "SERVICE_UNAVAILABLE",
  // tRPC has no 507; the message says what happened.
  INSUFFICIENT_STORAGE: "INTERNAL_SERVER_ERROR",
};

export function toTRPCError(error: RegistryError): TRPCError {
  return new TRPCError({ code: TRPC_CODES[error.code], message: error.message, cause: error });
}

/** Calls one batched HTTP request may carry (the server refuses more, the client sends fewer). */
export const MAX_BATCH_SIZE = 50;

/** Error data clients can switch on: Berth's own code next to tRPC's. */
export interface BerthErrorData {
  berthCode: RegistryErrorCode | null;
}

const t = initTRPC.context<ApiContext>().create({
  // Stacks stay in the logs.
  isDev: false,
  // events.tail streams over SSE: pings keep an idle stream open through proxies, and a
  // client that hears nothing for longer than that reconnects.
  sse: {
    ping: { enabled: true, intervalMs: 10_000 },
    client: { reconnectAfterInactivityMs: 25_000 },
  },
  errorFormatter({ shape, error }) {
    const cause = error.cause instanceof RegistryError ? error.cause : undefined;
    const internal = error.code === "INTERNAL_SERVER_ERROR";
    return {
      ...shape,
      // Unexpected errors may carry SQL or paths: the client gets a generic message. An
      // input the procedure's schema refused says which field and why, on one line (tRPC's
      // own message is the issues as pretty-printed JSON).
      message:
        internal && !cause
          ? "internal error"
          : error.cause instanceof ZodError
            ? zodMessage(error.cause)
            : shape.message,
      data: { ...shape.data, berthCode: cause?.code ?? null } as typeof shape.data & BerthErrorData,
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/**
 * Use-case errors become tRPC errors with the matching code and the use case's message; an
 * unreachable database, wherever it surfaced, is SERVICE_UNAVAILABLE rather than internal.
 */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const cause = result.error.cause;
    if (cause instanceof RegistryError) throw toTRPCError(cause);
    if (isDatabaseUnavailable(cause)) throw toTRPCError(toRegistryError(cause));
  }
  return result;
});

export const publicProcedure = t.procedure.use(mapErrors);

/**
 * Procedures for an identified caller. A request without a valid API key is refused
 * here, before any use case runs: with no account to attribute it to, it is counted and
 * logged but not audited.
 */
export const authedProcedure = publicProcedure.use(async ({ ctx, next }) => {
  if (!ctx.principal) {
    ctx.deps.onUnauthenticated?.(ctx.authProblem ?? "missing");
    throw new TRPCError({
      code: "UNAUTHORIZED",
      message:
        ctx.authProblem === "invalid"
          ? "the API key is not valid"
          : "an API key is required: send Authorization: Bearer <API key>",
    });
  }
  return next({ ctx: { ...ctx, registry: registryContext(ctx, ctx.principal) } });
});

/**
 * An input parser that only types the input: validation happens in the use case, so that
 * an identified caller's invalid input still produces the action's failure event.
 */
export function typed<T>() {
  return (input: unknown) => input as T;
}
