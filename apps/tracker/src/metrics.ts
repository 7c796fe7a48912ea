import { processMetrics } from "@berth/service";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export function trackerMetrics(read: {
  tailSubscribers: () => number;
  refusedWrites: () => number;
}) {
  const registry = new Registry();
  processMetrics(registry);
  return {
    registry,
    lines: new Counter({
      name: "berth_tracker_lines_total",
      help: "Ingested lines by tracker region and result (accepted, duplicate, rejected)",
      labelNames: ["region", "result"] as const,
      registers: [registry],
    }),
    batches: new Counter({
      name: "berth_tracker_ingest_batches_total",
      help: "Ingestion requests by HTTP status",
      labelNames: ["status"] as const,
      registers: [registry],
    }),
    transactions: new Counter({
      name: "berth_tracker_ingest_transactions_total",
      help: "Transactions that stored ingested events (concurrent requests share one), by how their events were placed: from the logs as this process last wrote them, in one statement (remembered), or under the logs' locks (locked: a log this process had not written, or that another process grew)",
      labelNames: ["placed"] as const,
      registers: [registry],
    }),
    refused: new Counter({
      name: "berth_tracker_ingest_refused_writes_total",
      help: "One-statement writes (placed from remembered logs) that the database refused, because another process had grown a log or an event was already stored; their events were then placed under the logs' locks",
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read.refusedWrites());
      },
    }),
    ingestSeconds: new Histogram({
      name: "berth_tracker_ingest_duration_seconds",
      help: "Time to validate and store one ingestion batch",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    queries: new Counter({
      name: "berth_tracker_queries_total",
      help: "Export queries served",
      registers: [registry],
    }),
    tails: new Gauge({
      name: "berth_tracker_tail_subscribers",
      help: "Open live tails on this process",
      registers: [registry],
      collect() {
        this.set(read.tailSubscribers());
      },
    }),
  };
}
