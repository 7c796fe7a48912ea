import { type DbOrTx, destinationStats, outboxStats } from "@berth/db";
import { processMetrics } from "@berth/service";
import { Counter, Gauge, Histogram, Registry } from "prom-client";

export function workerMetrics(db: DbOrTx) {
  const registry = new Registry();
  processMetrics(registry);
  // One query per scrape feeds the three outbox gauges.
  let pendingStats: Promise<Awaited<ReturnType<typeof outboxStats>>> | undefined;
  const stats = () => {
    pendingStats ??= outboxStats(db).finally(() => {
      setTimeout(() => {
        pendingStats = undefined;
      }, 100);
    });
    return pendingStats;
  };
  // And one more for every destination's ledger (the tracker's is the outbox).
  let pendingDestinations: Promise<Awaited<ReturnType<typeof destinationStats>>> | undefined;
  const perDestination = () => {
    pendingDestinations ??= destinationStats(db).finally(() => {
      setTimeout(() => {
        pendingDestinations = undefined;
      }, 100);
    });
    return pendingDestinations;
  };
  const byDestination = async (
    gauge: Gauge<"destination">,
    value: (s: { pending: number; dead: number; oldestPendingAgeMs: number }) => number,
  ) => {
    const [tracker, others] = await Promise.all([stats(), perDestination()]);
    gauge.set({ destination: "tracker" }, value(tracker));
    for (const d of others) gauge.set({ destination: d.destination }, value(d));
  };
  return {
    registry,
    destinationPending: new Gauge({
      name: "berth_destination_pending",
      help: "Events waiting for delivery to a destination (including those being retried)",
      labelNames: ["destination"] as const,
      registers: [registry],
      async collect() {
        await byDestination(this, (s) => s.pending);
      },
    }),
    destinationDead: new Gauge({
      name: "berth_destination_dead",
      help: "Events parked in a destination's dead letters",
      labelNames: ["destination"] as const,
      registers: [registry],
      async collect() {
        await byDestination(this, (s) => s.dead);
      },
    }),
    destinationLag: new Gauge({
      name: "berth_destination_lag_seconds",
      help: "Age of a destination's oldest pending event",
      labelNames: ["destination"] as const,
      registers: [registry],
      async collect() {
        await byDestination(this, (s) => s.oldestPendingAgeMs / 1000);
      },
    }),
    destinationDelivered: new Counter({
      name: "berth_destination_delivered_total",
      help: "Events a destination took, by destination",
      labelNames: ["destination"] as const,
      registers: [registry],
    }),
    destinationRetried: new Counter({
      name: "berth_destination_retried_total",
      help: "Events scheduled for another attempt, by destination",
      labelNames: ["destination"] as const,
      registers: [registry],
    }),
    destinationDeadLettered: new Counter({
      name: "berth_destination_dead_lettered_total",
      help: "Events parked in the dead-letter state, by destination",
      labelNames: ["destination"] as const,
      registers: [registry],
    }),
    destinationRedelivered: new Counter({
      name: "berth_destination_redelivered_total",
      help: "Events sent again after an attempt whose fate was unknown: duplicates at a destination that cannot dedupe (syslog)",
      labelNames: ["destination"] as const,
      registers: [registry],
    }),
    destinationBatchSeconds: new Histogram({
      name: "berth_destination_batch_duration_seconds",
      help: "Time to send one batch to a destination, by destination and outcome",
      labelNames: ["destination", "outcome"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    pending: new Gauge({
      name: "berth_outbox_pending",
      help: "Events waiting for delivery (including those being retried)",
      registers: [registry],
      async collect() {
        this.set((await stats()).pending);
      },
    }),
    dead: new Gauge({
      name: "berth_outbox_dead",
      help: "Events parked in the dead-letter state",
      registers: [registry],
      async collect() {
        this.set((await stats()).dead);
      },
    }),
    lag: new Gauge({
      name: "berth_outbox_oldest_pending_age_seconds",
      help: "Age of the oldest pending event: the delivery lag",
      registers: [registry],
      async collect() {
        this.set((await stats()).oldestPendingAgeMs / 1000);
      },
    }),
    delivered: new Counter({
      name: "berth_delivery_delivered_total",
      help: "Events the tracker accepted (or already held), by tracker region",
      labelNames: ["region"] as const,
      registers: [registry],
    }),
    retried: new Counter({
      name: "berth_delivery_retried_total",
      help: "Events scheduled for another attempt, by tracker region",
      labelNames: ["region"] as const,
      registers: [registry],
    }),
    deadLettered: new Counter({
      name: "berth_delivery_dead_lettered_total",
      help: "Events parked in the dead-letter state, by tracker region",
      labelNames: ["region"] as const,
      registers: [registry],
    }),
    batchSeconds: new Histogram({
      name: "berth_delivery_batch_duration_seconds",
      help: "Time of one ingestion request, by tracker region and outcome",
      labelNames: ["region", "outcome"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    latencySeconds: new Histogram({
      name: "berth_delivery_latency_seconds",
      help: "From the event's transaction to its acceptance by the tracker",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120, 600],
      registers: [registry],
    }),
    claims: new Counter({
      name: "berth_delivery_claims_total",
      help: "Claim statements, by whether they found events",
      labelNames: ["found"] as const,
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: "berth_delivery_in_flight_events",
      help: "Events claimed by this worker and not yet settled",
      registers: [registry],
    }),
  };
}

export type WorkerMetrics = ReturnType<typeof workerMetrics>;
