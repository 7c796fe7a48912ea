import type { DeliveryRow } from "@berth/db";
import { Webhook } from "standardwebhooks";
import type { DestinationSpec } from "../destination-config";
import type { Sender } from "../send";
import { post } from "./http-batch";
import type { Transport, TransportOptions, TransportResult } from "./transport";

type WebhookSpec = Extract<DestinationSpec, { type: "webhook" }>;

/**
 * Standard Webhooks: one POST per event, the event as the body, signed with the shared secret
 * (webhook-id = the event id, webhook-timestamp, webhook-signature v1 HMAC-SHA256 by the
 * official library). A receiver dedupes redeliveries by webhook-id, as the specification asks.
 * The events of a batch are sent concurrently, so a webhook receiver sees them in no set order.
 */
export class WebhookTransport implements Transport {
  private readonly url: URL;
  private readonly signer: Webhook;

  constructor(
    spec: WebhookSpec,
    private readonly sender: Sender,
    private readonly o: TransportOptions,
  ) {
    this.url = new URL(spec.url);
    this.signer = new Webhook(spec.secret);
  }

  async send(rows: DeliveryRow[], signal: AbortSignal): Promise<TransportResult> {
    const out: TransportResult = { delivered: [], rejected: [], released: [] };
    const failed: string[] = [];
    let error = "";
    let retryAfter: number | undefined;
    await Promise.all(
      rows.map(async (row) => {
        const now = new Date();
        const headers = {
          "webhook-id": row.id,
          "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
          "webhook-signature": this.signer.sign(row.id, now, row.payload),
        };
        const a = await post(this.sender, this.url, row.payloadBytes, headers, {
          timeoutMs: this.o.requestTimeoutMs,
          signal,
        });
        if (a.kind === "ok") out.delivered.push(row.id);
        else if (a.kind === "rejected") out.rejected.push({ id: row.id, reason: a.detail });
        else if (a.kind === "aborted") out.released!.push(row.id);
        else {
          failed.push(row.id);
          error = a.detail;
          retryAfter = Math.max(retryAfter ?? 0, a.retryAfterMs ?? 0);
        }
      }),
    );
    if (failed.length > 0) out.failed = { ids: failed, error, retryAfterMs: retryAfter };
    return out;
  }

  async close(): Promise<void> {}
}
