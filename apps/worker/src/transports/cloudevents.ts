import type { DeliveryRow } from "@berth/db";
import { CloudEvent } from "cloudevents";
import type { DestinationSpec } from "../destination-config";
import type { Sender } from "../send";
import { post } from "./http-batch";
import type { Transport, TransportOptions, TransportResult } from "./transport";

type CloudEventsSpec = Extract<DestinationSpec, { type: "cloudevents" }>;

export const BATCH_CONTENT_TYPE = "application/cloudevents-batch+json";

/** A Berth event as a CloudEvent 1.0: type the action, source the target's CRN, id the event id. */
export function cloudEventOf(row: DeliveryRow): CloudEvent<unknown> {
  const e = JSON.parse(row.payload) as { action: string; target?: { id?: string } };
  const ms = Date.parse(`${row.eventTime.slice(0, 22)}0Z`);
  return new CloudEvent({
    specversion: "1.0",
    id: row.id,
    type: e.action,
    source: e.target?.id || "crn:v1:berth",
    time: new Date(Number.isNaN(ms) ? row.createdAt.getTime() : ms).toISOString(),
    datacontenttype: "application/json",
    data: e,
  });
}

/**
 * CloudEvents 1.0 over HTTP in batched mode: a batch is one POST of a JSON array
 * (application/cloudevents-batch+json). A rejected batch is halved until the event at fault
 * is alone and dead-lettered, as for the tracker. Receivers dedupe by (source, id).
 */
export class CloudEventsTransport implements Transport {
  private readonly url: URL;
  private readonly headers: Record<string, string>;

  constructor(
    spec: CloudEventsSpec,
    private readonly sender: Sender,
    private readonly o: TransportOptions,
  ) {
    this.url = new URL(spec.url);
    this.headers = {
      "content-type": BATCH_CONTENT_TYPE,
      ...(spec.authorization ? { authorization: spec.authorization } : {}),
    };
  }

  async send(rows: DeliveryRow[], signal: AbortSignal): Promise<TransportResult> {
    const out: TransportResult = { delivered: [], rejected: [], released: [] };
    const failed: string[] = [];
    let error = "";
    let retryAfter: number | undefined;
    const go = async (part: DeliveryRow[]): Promise<void> => {
      const body = Buffer.from(JSON.stringify(part.map((r) => cloudEventOf(r).toJSON())));
      const a = await post(this.sender, this.url, body, this.headers, {
        timeoutMs: this.o.requestTimeoutMs,
        signal,
      });
      if (a.kind === "ok") out.delivered.push(...part.map((r) => r.id));
      else if (a.kind === "aborted") out.released!.push(...part.map((r) => r.id));
      else if (a.kind === "rejected") {
        if (part.length === 1) out.rejected.push({ id: part[0]!.id, reason: a.detail });
        else {
          const mid = Math.ceil(part.length / 2);
          await Promise.all([go(part.slice(0, mid)), go(part.slice(mid))]);
        }
      } else {
        failed.push(...part.map((r) => r.id));
        error = a.detail;
        retryAfter = Math.max(retryAfter ?? 0, a.retryAfterMs ?? 0);
      }
    };
    const size = 500;
    const parts: Promise<void>[] = [];
    for (let i = 0; i < rows.length; i += size) parts.push(go(rows.slice(i, i + size)));
    await Promise.all(parts);
    if (failed.length > 0) out.failed = { ids: failed, error, retryAfterMs: retryAfter };
    return out;
  }

  async close(): Promise<void> {}
}
