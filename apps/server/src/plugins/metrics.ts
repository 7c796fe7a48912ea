import type { BerthPlugin } from "../berth-plugin";

/** `/metrics` in the Prometheus text format. */
export const metricsRoutes: BerthPlugin = async (app, deps) => {
  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
};
