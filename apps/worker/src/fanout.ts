import { claimDestination, type DeliveryRow, type Settlement, type Sql } from "@berth/db";
import type { Logger } from "pino";
import { backoffDelay } from "./backoff";
import { ClaimLoops } from "./claim-loop";
import type { WorkerSettings } from "./config";
import { type DestinationSpec, describe, isOrdered } from "./destination-config";
import type { WorkerMetrics } from "./metrics";
import type { Sender } from "./send";
import { settle } from "./settle";
import type { Transport, TransportResult } from "./transports/transport";

export interface FanoutDeps {
  sql: Sql;
  workerId: string;
  settings: Pick<
    WorkerSettings,
    | "batchSize"
    | "concurrency"
    | "leaseMs"
    | "pollMs"
    | "maxAttempts"
    | "retryBaseMs"
    | "retryMaxMs"
    | "requestTimeoutMs"
    | "hostname"
  >;
  sender: Sender;
  signal: AbortSignal;
  metrics: WorkerMetrics;
  log: Logger;
}

/**
 * A destination's transport. Each is imported only when a destination of its type is
 * configured: the CloudEvents SDK and the NATS client cost a worker that delivers only to the
 * tracker a noticeable part of its start-up.
 */
export async function transportOf(spec: DestinationSpec, deps: FanoutDeps): Promise<Transport> {
  const o = { requestTimeoutMs: deps.settings.requestTimeoutMs, hostname: deps.settings.hostname };
  switch (spec.type) {
    case "syslog":
      return new (await import("./transports/syslog")).SyslogTransport(spec, o);
    case "webhook":
      return new (await import("./transports/webhook")).WebhookTransport(spec, deps.sender, o);
    case "cloudevents":
      return new (await import("./transports/cloudevents")).CloudEventsTransport(
        spec,
        deps.sender,
        o,
      );
    case "jetstream":
      return new (await import("./transports/jetstream")).JetStreamTransport(spec, o);
  }
}

/** Per-destination counts, for tests and the bench. */
export interface DestinationStatsCounters {
  delivered: number;
  retried: number;
  deadLettered: number;
  redelivered: number;
}

/**
 * One destination's delivery: its own claim loops over its own ledger, its own transport,
 * backoff, attempt budget and dead letters, so a destination that is down or slow holds up
 * nothing but itself. An ordered destination (syslog, JetStream) runs one batch at a time.
 */
export class DestinationDelivery {
  readonly loops: ClaimLoops;
  readonly counters: DestinationStatsCounters = {
    delivered: 0,
    retried: 0,
    deadLettered: 0,
    redelivered: 0,
  };

  static async create(spec: DestinationSpec, deps: FanoutDeps): Promise<DestinationDelivery> {
    return new DestinationDelivery(spec, deps, await transportOf(spec, deps));
  }

  private constructor(
    readonly spec: DestinationSpec,
    private readonly deps: FanoutDeps,
    readonly transport: Transport,
  ) {
    const s = deps.settings;
    const ordered = isOrdered(spec);
    const batchSize = spec.batchSize ?? s.batchSize;
    this.loops = new ClaimLoops({
      sql: deps.sql,
      workerId: deps.workerId,
      batchSize,
      leaseMs: s.leaseMs,
      pollMs: s.pollMs,
      concurrency: ordered ? 1 : (spec.concurrency ?? s.concurrency),
      claim: (after) =>
        claimDestination(deps.sql, {
          destination: spec.name,
          ordered,
          limit: batchSize,
          leaseMs: s.leaseMs,
          workerId: deps.workerId,
          after,
        }),
      handle: async (rows) => {
        await settle(deps.sql, await this.deliver(rows), deps.log, spec.name);
      },
      release: async (rows) => {
        await settle(deps.sql, { released: rows.map((r) => r.id) }, deps.log, spec.name);
      },
      metrics: deps.metrics,
      log: deps.log,
    });
  }

  private async deliver(rows: DeliveryRow[]): Promise<Settlement> {
    const { metrics, log, settings: s } = this.deps;
    const name = this.spec.name;
    const label = { destination: name };
    const again = rows.filter((r) => r.attempts > 1).length;
    if (again > 0) {
      metrics.destinationRedelivered.inc(label, again);
      this.counters.redelivered += again;
    }
    const started = performance.now();
    let r: TransportResult;
    try {
      r = await this.transport.send(rows, this.deps.signal);
    } catch (error) {
      r = {
        delivered: [],
        rejected: [],
        failed: { ids: rows.map((x) => x.id), error: (error as Error).message },
      };
    }
    const outcome = r.failed ? "error" : r.rejected.length > 0 ? "rejected" : "ok";
    metrics.destinationBatchSeconds.observe(
      { destination: name, outcome },
      (performance.now() - started) / 1000,
    );
    const out: Required<Settlement> = {
      delivered: r.delivered,
      dead: r.rejected,
      retries: [],
      released: r.released ?? [],
    };
    if (r.rejected.length > 0) {
      log.error(
        { destination: name, events: r.rejected.length, reason: r.rejected[0]?.reason },
        "events rejected by the destination, dead-lettered",
      );
    }
    if (r.failed) {
      const failed = new Set(r.failed.ids);
      const mine = rows.filter((x) => failed.has(x.id));
      const attempts = Math.max(...mine.map((x) => x.attempts));
      const delayMs = Math.max(
        r.failed.retryAfterMs ?? 0,
        backoffDelay(attempts, { baseMs: s.retryBaseMs, maxMs: s.retryMaxMs }),
      );
      const budget = this.spec.maxAttempts ?? s.maxAttempts;
      for (const x of mine) {
        if (x.attempts >= budget) {
          out.dead.push({
            id: x.id,
            reason: `gave up after ${x.attempts} attempts: ${r.failed.error}`,
          });
        } else out.retries.push({ id: x.id, delayMs, error: r.failed.error });
      }
      log.warn(
        {
          destination: describe(this.spec),
          events: mine.length,
          attempts,
          delayMs,
          error: r.failed.error,
        },
        out.retries.length < mine.length
          ? "delivery to a destination failed, gave up on events out of attempts"
          : "delivery to a destination failed, will retry",
      );
    }
    metrics.destinationDelivered.inc(label, out.delivered.length);
    metrics.destinationRetried.inc(label, out.retries.length);
    metrics.destinationDeadLettered.inc(label, out.dead.length);
    this.counters.delivered += out.delivered.length;
    this.counters.retried += out.retries.length;
    this.counters.deadLettered += out.dead.length;
    return out;
  }
}
