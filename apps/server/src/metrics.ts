import { processMetrics } from "@berth/service";
import { Counter, Histogram, Registry } from "prom-client";

export interface ServerMetrics {
  registry: Registry;
  requests: Counter<"region" | "method" | "route" | "status">;
  duration: Histogram<"region" | "method" | "route" | "status">;
  unauthenticated: Counter<"region" | "reason">;
  rateLimited: Counter<"region" | "surface">;
  slowClientsCut: Counter<"region">;
}

/** One registry per server (not prom-client's global), so servers in one process never clash. */
export function createMetrics(): ServerMetrics {
  const registry = new Registry();
  processMetrics(registry, "berth_server_");
  return {
    registry,
    requests: new Counter({
      name: "berth_http_requests_total",
      help: "HTTP requests by region, method, route and status",
      labelNames: ["region", "method", "route", "status"],
      registers: [registry],
    }),
    duration: new Histogram({
      name: "berth_http_request_duration_seconds",
      help: "HTTP request duration by region, method, route and status",
      labelNames: ["region", "method", "route", "status"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    unauthenticated: new Counter({
      name: "berth_unauthenticated_requests_total",
      help: "Requests refused for a missing or invalid credential (not audited: no account)",
      labelNames: ["region", "reason"],
      registers: [registry],
    }),
    slowClientsCut: new Counter({
      name: "berth_slow_requests_cut_total",
      help: "Connections closed because a request body arrived slower than the minimum rate",
      labelNames: ["region"],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: "berth_auth_rate_limited_total",
      help: "Requests refused (429) because their source failed authentication too often",
      labelNames: ["region", "surface"],
      registers: [registry],
    }),
  };
}
