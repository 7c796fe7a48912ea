import type { FastifyInstance } from "fastify";

/** How long /readyz waits for its check before answering 503. */
export const READY_TIMEOUT_MS = 2000;

export interface HealthAnswer {
  statusCode: number;
  body: Record<string, unknown>;
}

export interface HealthOptions {
  /** What readiness needs (the database answering); rejects or hangs when not ready. */
  ready: () => Promise<unknown>;
  /** Fields added to both answers (e.g. the server's region). */
  extra?: Record<string, unknown>;
  timeoutMs?: number;
  /** Where the reason of a failed check goes: the operator's log, never the answer. */
  log?: { warn(obj: object, msg: string): void };
}

/** `/healthz`: the process answers. */
export function liveness(opts: Pick<HealthOptions, "extra"> = {}): HealthAnswer {
  return { statusCode: 200, body: { status: "ok", ...opts.extra } };
}

/**
 * `/readyz`: and its database does too, within the timeout. The answer names what is
 * unavailable and nothing else: no error text, versions, addresses or keys, which would tell
 * whoever can reach the port how the service is built and where its parts are.
 */
export async function readiness(opts: HealthOptions): Promise<HealthAnswer> {
  const ms = opts.timeoutMs ?? READY_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([opts.ready(), timeout]);
    return { statusCode: 200, body: { status: "ready", ...opts.extra } };
  } catch (error) {
    opts.log?.warn({ err: error }, "readiness check failed: database unreachable");
    return { statusCode: 503, body: { status: "unavailable", reason: "database unreachable" } };
  } finally {
    clearTimeout(timer);
  }
}

/** The answer to a health path, or undefined for any other path (for plain node:http servers). */
export async function healthAnswer(
  path: string,
  opts: HealthOptions,
): Promise<HealthAnswer | undefined> {
  if (path === "/healthz") return liveness(opts);
  if (path === "/readyz") return readiness(opts);
  return undefined;
}

/** `/healthz` and `/readyz` on a fastify app. */
// Any fastify app, whatever its logger and type provider.
// biome-ignore lint/suspicious/noExplicitAny: the routes use nothing those parameters change
type AnyFastify = FastifyInstance<any, any, any, any, any>;

export function healthRoutes(app: AnyFastify, opts: HealthOptions): void {
  app.get("/healthz", async (_req, reply) => {
    const a = liveness(opts);
    return reply.code(a.statusCode).send(a.body);
  });
  app.get("/readyz", async (req, reply) => {
    const a = await readiness({ ...opts, log: opts.log ?? req.log });
    return reply.code(a.statusCode).send(a.body);
  });
}
