import type { AtEvent } from "@berth/core";
import { crnAccount } from "./log/append";

/** The columns of tracker.events that ingestion writes, in the order of `eventRow`'s fields. */
export const EVENT_COLUMNS =
  "id, account_id, region, event_time, host, action, outcome, severity, initiator_id, " +
  "initiator_name, target_id, target_name, message, payload, log_index, seq";

const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

/**
 * A value in COPY's text format: backslash, tab, newline and carriage return escaped (NUL
 * cannot reach here: a body holding \u0000 has such events rejected one by one).
 */
export function copyText(value: string): string {
  return SPECIAL.test(value) ? value.replace(SPECIALS, (c) => ESCAPES[c] as string) : value;
}

/**
 * One event's line for `COPY tracker.events (EVENT_COLUMNS) FROM STDIN`. `payload` is the
 * event's JSON text as stored (its canonical text when logged); the other columns are the
 * validated event's own fields, the account read from the target CRN as crnAccount does, and
 * the time as Postgres reads the tracker's "2019-06-01T12:34:56.78+0000" (hundredths, UTC).
 * `region` is a region token and `host` already in COPY's text form; `seq` was drawn from the
 * column's identity sequence (COPY writes an identity column's given value).
 */
export function eventRow(
  e: AtEvent,
  payload: string,
  region: string,
  host: string,
  logIndex: number | undefined,
  seq: string,
): string {
  return `${e.id}\t${copyText(crnAccount(e.target.id))}\t${region}\t${e.eventTime.slice(0, 22)}0Z\t${host}\t${e.action}\t${e.outcome}\t${e.severity}\t${copyText(e.initiator.id)}\t${copyText(e.initiator.name)}\t${copyText(e.target.id)}\t${copyText(e.target.name)}\t${copyText(e.message)}\t${copyText(payload)}\t${logIndex ?? "\\N"}\t${seq}\n`;
}

/** COPY data goes out in pieces of about this many bytes. */
const CHUNK_BYTES = 64 * 1024;

/**
 * The rows as COPY data, in pieces of about 64 KB. Each row is encoded on its own (flattening
 * one string of a whole batch cost several times more) and a piece stays small enough to be
 * served from memory the process reuses: one buffer per batch, copied once more by the
 * driver's framing, touched fresh pages (page faults) for every batch.
 */
export function copyChunks(rows: readonly string[]): Buffer[] {
  const chunks: Buffer[] = [];
  let part: Buffer[] = [];
  let bytes = 0;
  for (const row of rows) {
    const b = Buffer.from(row);
    part.push(b);
    bytes += b.length;
    if (bytes >= CHUNK_BYTES) {
      chunks.push(Buffer.concat(part, bytes));
      part = [];
      bytes = 0;
    }
  }
  if (part.length > 0) chunks.push(Buffer.concat(part, bytes));
  return chunks;
}
