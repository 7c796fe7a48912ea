import { collectDefaultMetrics, type Registry } from "prom-client";

/**
 * prom-client's process metrics (CPU, memory, event loop, GC), minus `nodejs_version_info`:
 * whoever can reach /metrics learns nothing about which versions to attack.
 */
export function processMetrics(registry: Registry, prefix = ""): void {
  collectDefaultMetrics({ register: registry, prefix });
  registry.removeSingleMetric(`${prefix}nodejs_version_info`);
}
