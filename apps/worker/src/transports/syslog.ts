import { readFileSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { type AtEvent, eventAccount } from "@berth/core";
import type { DeliveryRow } from "@berth/db";
import { ConfigError } from "@berth/service";
import type { DestinationSpec } from "../destination-config";
import {
  allFailed,
  type Transport,
  type TransportOptions,
  type TransportResult,
} from "./transport";

type SyslogSpec = Extract<DestinationSpec, { type: "syslog" }>;

/** RFC 5424 severities for the event's: normal is informational, warning and critical as named. */
const SEVERITY: Record<string, number> = { normal: 6, warning: 4, critical: 2 };
/**
 * SD-ID of Berth's structured data. 32473 is the private enterprise number RFC 5612 reserves
 * for documentation; an operator with a number of their own can grep for this one.
 */
export const SD_ID = "berth@32473";

/** RFC 5424 §6.3.3: '"', '\' and ']' are escaped in a PARAM-VALUE. */
const sdValue = (s: string) => s.replace(/["\\\]]/g, (c) => `\\${c}`);

/** RFC 5424 header fields are printable US-ASCII without spaces; '-' when empty. */
const headerField = (s: string, max: number) => s.replace(/[^!-~]/g, "").slice(0, max) || "-";

/** The event time as an RFC 3339 timestamp (the event's own is "…+0000" with hundredths). */
function timestampOf(row: DeliveryRow): string {
  const ms = Date.parse(`${row.eventTime.slice(0, 22)}0Z`);
  return new Date(Number.isNaN(ms) ? row.createdAt.getTime() : ms).toISOString();
}

/** One RFC 5424 message: structured data with action, outcome, account, event id; the event as MSG. */
export function syslogMessage(
  row: DeliveryRow,
  o: { facility: number; appName: string; hostname: string },
): string {
  const e = JSON.parse(row.payload) as {
    action?: string;
    outcome?: string;
    target?: { id?: string };
  };
  let account = "";
  try {
    account = eventAccount({ target: { id: e.target?.id ?? "" } } as Pick<AtEvent, "target">);
  } catch {
    // An event without a valid CRN still goes out; its account field stays empty.
  }
  const pri = o.facility * 8 + (SEVERITY[row.severity] ?? 6);
  const sd = `[${SD_ID} action="${sdValue(e.action ?? "")}" outcome="${sdValue(e.outcome ?? "")}" account="${sdValue(account)}" eventId="${row.id}"]`;
  return `<${pri}>1 ${timestampOf(row)} ${headerField(o.hostname, 255)} ${o.appName} - ${headerField(e.action ?? "", 32)} ${sd} ${row.payload}`;
}

/**
 * RFC 5424 over TCP with octet-counting framing (RFC 6587 §3.4.1), or TLS (RFC 5425).
 *
 * Syslog has no acknowledgement, so each batch gets a connection of its own: the frames are
 * written in order, then our side is closed, and the batch counts as delivered only when the
 * receiver closes its side after reading to the end (rsyslog does so once every message has
 * been handed to its queue). A receiver that dies mid-batch resets or times out the connection
 * and the whole batch is sent again: at-least-once, with duplicates the receiver cannot see
 * through (counted in berth_destination_redelivered_total).
 */
export class SyslogTransport implements Transport {
  private readonly url: URL;
  private readonly ca?: Buffer;

  constructor(
    private readonly spec: SyslogSpec,
    private readonly o: TransportOptions,
  ) {
    this.url = new URL(spec.url);
    if (spec.ca) {
      try {
        this.ca = readFileSync(spec.ca);
      } catch (error) {
        throw new ConfigError(
          `BERTH_DESTINATIONS: ${spec.name}: ca: cannot read ${spec.ca}: ${(error as NodeJS.ErrnoException).code ?? "error"}`,
        );
      }
    }
  }

  async send(rows: DeliveryRow[], signal: AbortSignal): Promise<TransportResult> {
    const fmt = {
      facility: this.spec.facility ?? 13,
      appName: this.spec.appName ?? "berth",
      hostname: this.o.hostname,
    };
    const frames = rows.map((r) => {
      const m = Buffer.from(syslogMessage(r, fmt));
      return Buffer.concat([Buffer.from(`${m.length} `), m]);
    });
    try {
      await this.exchange(Buffer.concat(frames), signal);
      return { delivered: rows.map((r) => r.id), rejected: [] };
    } catch (error) {
      if (signal.aborted) return { delivered: [], rejected: [], released: rows.map((r) => r.id) };
      return allFailed(rows, (error as Error).message);
    }
  }

  /** Write, half-close, and wait for the receiver to close after reading everything. */
  private exchange(data: Buffer, signal: AbortSignal): Promise<void> {
    const host = this.url.hostname.replace(/^\[|\]$/g, "");
    const port = Number(this.url.port || (this.url.protocol === "tls:" ? 6514 : 601));
    return new Promise((resolve, reject) => {
      const socket: net.Socket =
        this.url.protocol === "tls:"
          ? tls.connect({ host, port, ca: this.ca, servername: net.isIP(host) ? undefined : host })
          : net.connect({ host, port });
      let settled = false;
      const done = (error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        socket.destroy();
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(
        () => done(new Error(`syslog receiver did not close within ${this.o.requestTimeoutMs} ms`)),
        this.o.requestTimeoutMs,
      );
      const onAbort = () => done(new Error("shutting down"));
      signal.addEventListener("abort", onAbort, { once: true });
      socket.on(this.url.protocol === "tls:" ? "secureConnect" : "connect", () => {
        socket.end(data);
      });
      socket.on("data", () => {});
      socket.on("error", (e: NodeJS.ErrnoException) =>
        done(new Error(e.code ? `${e.code}: ${e.message}` : e.message)),
      );
      // The receiver closed after our FIN: it read every frame.
      socket.on("end", () =>
        done(
          socket.writableFinished
            ? undefined
            : new Error("receiver closed before the batch was written"),
        ),
      );
      socket.on("close", (hadError) => {
        if (!hadError) done(settled ? undefined : new Error("connection closed before the end"));
      });
    });
  }

  async close(): Promise<void> {}
}
