import type { AtEvent, Severity } from "@berth/core";

export type LogLevel = "INFO" | "WARN" | "ERROR";

/** The ingestion level of an event: what a log service shows and alerts on. */
export function levelOf(severity: Severity | string): LogLevel {
  if (severity === "critical") return "ERROR";
  if (severity === "warning") return "WARN";
  return "INFO";
}

export const APP_NAME = "container-registry";

/** One line of the ingestion API (`POST <endpoint>/logs/ingest`). */
export interface IngestLine {
  timestamp: number;
  line: string;
  app: string;
  level: LogLevel;
  meta: unknown;
}

export type IngestStatus = "accepted" | "duplicate" | "rejected";

export interface IngestResult {
  /** Position of the line in the batch. */
  index: number;
  /** The event id, when the line carried one. */
  id: string | null;
  status: IngestStatus;
  reason?: string;
}

export interface IngestResponse {
  batchID: string;
  status: "ok";
  accepted: number;
  duplicates: number;
  rejected: number;
  results: IngestResult[];
}

/** A stored event as the export and tail APIs return it. */
export interface TrackerLine {
  /** The event id. */
  _id: string;
  /** Event time, ms since the epoch. */
  _ts: number;
  /** The event message. */
  _line: string;
  _app: string;
  _host: string;
  level: LogLevel;
  /** The account domain the event is filed under. */
  _account: string;
  /** The tracker region that holds it. */
  _region: string;
  event: AtEvent;
  /** Its index in the account domain's verifiable log (null for events stored before the log existed). */
  _logIndex?: number | null;
}

export interface ExportResponse {
  lines: TrackerLine[];
  /** Pass back as `pagination_id` for the next (older) page; null on the last page. */
  pagination_id: string | null;
}
