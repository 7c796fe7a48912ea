import { sql } from "drizzle-orm";
import type { BerthPlugin } from "../berth-plugin";

const READY_TIMEOUT_MS = 2000;

/** `/healthz`: the process answers. `/readyz`: and its database does too. */
export const healthRoutes: BerthPlugin = async (app, deps) => {
  app.get("/healthz", async () => ({ status: "ok", region: deps.region }));
  app.get("/readyz", async (req, reply) => {
    try {
      await withTimeout(deps.db.execute(sql`select 1`), READY_TIMEOUT_MS);
      return { status: "ready", region: deps.region };
    } catch (error) {
      req.log.warn({ err: error }, "readiness check failed: database unreachable");
      return reply.code(503).send({ status: "unavailable", reason: "database unreachable" });
    }
  });
};

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
