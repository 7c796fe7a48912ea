import type { DeliveryRow } from "@berth/db";

/** What a destination did with a batch: every row in exactly one place. */
export interface TransportResult {
  delivered: string[];
  /** Refused for good, for the event's own sake: dead-lettered. */
  rejected: { id: string; reason: string }[];
  /** Not taken this time (down, erroring, slow): retried with backoff. */
  failed?: { ids: string[]; error: string; retryAfterMs?: number };
  /** Cut by shutdown before the receiver answered: leases given back. */
  released?: string[];
}

/** One destination's wire protocol. */
export interface Transport {
  send(rows: DeliveryRow[], signal: AbortSignal): Promise<TransportResult>;
  close(): Promise<void>;
}

export interface TransportOptions {
  requestTimeoutMs: number;
  hostname: string;
}

/** The whole batch failed. */
export const allFailed = (rows: DeliveryRow[], error: string, retryAfterMs?: number) => ({
  delivered: [],
  rejected: [],
  failed: { ids: rows.map((r) => r.id), error, retryAfterMs },
});
