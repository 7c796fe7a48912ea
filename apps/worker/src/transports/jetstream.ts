import type { DeliveryRow } from "@berth/db";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { DestinationSpec } from "../destination-config";
import {
  allFailed,
  type Transport,
  type TransportOptions,
  type TransportResult,
} from "./transport";

type JetStreamSpec = Extract<DestinationSpec, { type: "jetstream" }>;

/**
 * NATS JetStream: every event published to the subject with Nats-Msg-Id = the event id, so the
 * stream drops a redelivery inside its duplicate window (2 minutes by default; a destination
 * down for longer should get a longer window). A batch's publishes are pipelined on one
 * connection, which the server stores in the order sent; each is acknowledged by the stream
 * (PubAck), and only acknowledged events count as delivered.
 */
export class JetStreamTransport implements Transport {
  private nc?: Promise<NatsConnection>;
  private js?: JetStreamClient;
  private readonly server: string;

  constructor(
    private readonly spec: JetStreamSpec,
    private readonly o: TransportOptions,
  ) {
    const u = new URL(spec.url);
    this.server = `${u.protocol === "tls:" ? "tls" : "nats"}://${u.host}`;
  }

  private async client(): Promise<JetStreamClient> {
    this.nc ??= connect({
      servers: this.server,
      token: this.spec.token,
      name: "berth-worker",
      timeout: this.o.requestTimeoutMs,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    try {
      const nc = await this.nc;
      this.js ??= jetstream(nc, { timeout: this.o.requestTimeoutMs });
      return this.js;
    } catch (error) {
      // The first connection failed: try a fresh one next time.
      this.nc = undefined;
      throw error;
    }
  }

  async send(rows: DeliveryRow[], signal: AbortSignal): Promise<TransportResult> {
    let js: JetStreamClient;
    try {
      js = await this.client();
    } catch (error) {
      return allFailed(rows, `cannot connect to ${this.server}: ${(error as Error).message}`);
    }
    if (signal.aborted) return { delivered: [], rejected: [], released: rows.map((r) => r.id) };
    const acks = await Promise.allSettled(
      rows.map((r) =>
        js.publish(this.spec.subject, r.payloadBytes, {
          msgID: r.id,
          timeout: this.o.requestTimeoutMs,
        }),
      ),
    );
    const out: TransportResult = { delivered: [], rejected: [] };
    const failed: string[] = [];
    let error = "";
    acks.forEach((a, i) => {
      if (a.status === "fulfilled") out.delivered.push(rows[i]!.id);
      else {
        failed.push(rows[i]!.id);
        error = (a.reason as Error).message;
      }
    });
    if (failed.length > 0) out.failed = { ids: failed, error };
    return out;
  }

  async close(): Promise<void> {
    const nc = await this.nc?.catch(() => undefined);
    await nc?.close().catch(() => {});
  }
}
