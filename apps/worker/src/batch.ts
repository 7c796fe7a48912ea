import type { DeliveryRow } from "@berth/db";
import { APP_NAME, levelOf } from "@berth/tracker-client";

/** An ingestion line, UTF-8, in parts: what `lineOf` writes, then the outbox's payload bytes. */
export type Line = [head: Buffer, payload: Buffer];

export interface Chunk {
  rows: DeliveryRow[];
  /** Each row's ingestion line. */
  lines: Line[];
  /** The lines' bytes, each with the comma or bracket after it. */
  bytes: number;
}

const lineBytes = (l: Line) => l[0].length + l[1].length + LINE_END.length + 1;

/** The tracker's format: UTC with hundredths, "+0000". Falls back to the commit time. */
function timestampOf(row: DeliveryRow): number {
  const ms = Date.parse(`${row.eventTime.slice(0, 22)}0Z`);
  return Number.isNaN(ms) ? row.createdAt.getTime() : ms;
}

const LINE_END = Buffer.from("}");

/**
 * One ingestion line. The payload is already JSON, as bytes straight from the outbox: it is
 * spliced in rather than decoded, parsed, serialised and encoded again; only the few fields
 * around it are written here. It is copied once, into the request body (bodyOf).
 */
export function lineOf(row: DeliveryRow): Line {
  const head = `{"timestamp":${timestampOf(row)},"line":${JSON.stringify(row.message)},"app":"${APP_NAME}","level":"${levelOf(row.severity)}","meta":`;
  return [Buffer.from(head), row.payloadBytes];
}

/** Split rows into request bodies bounded by line count and bytes. */
export function chunk(rows: DeliveryRow[], maxLines: number, maxBytes: number): Chunk[] {
  const out: Chunk[] = [];
  let current: Chunk = { rows: [], lines: [], bytes: 0 };
  for (const row of rows) {
    const line = lineOf(row);
    const size = lineBytes(line);
    if (
      current.rows.length > 0 &&
      (current.rows.length >= maxLines || current.bytes + size > maxBytes)
    ) {
      out.push(current);
      current = { rows: [], lines: [], bytes: 0 };
    }
    current.rows.push(row);
    current.lines.push(line);
    current.bytes += size;
  }
  if (current.rows.length > 0) out.push(current);
  return out;
}

const BODY_START = Buffer.from(`{"lines":[`);
const COMMA = Buffer.from(",");
const BODY_END = Buffer.from("]}");

/** The request body: the lines copied once into one buffer, never through a string. */
export function bodyOf(c: Chunk): Buffer {
  const parts: Buffer[] = [BODY_START];
  c.lines.forEach(([head, payload], i) => {
    if (i > 0) parts.push(COMMA);
    parts.push(head, payload, LINE_END);
  });
  parts.push(BODY_END);
  return Buffer.concat(parts);
}

export function halves(c: Chunk): [Chunk, Chunk] {
  const mid = Math.ceil(c.rows.length / 2);
  const part = (from: number, to: number): Chunk => {
    const lines = c.lines.slice(from, to);
    return {
      rows: c.rows.slice(from, to),
      lines,
      bytes: lines.reduce((n, l) => n + lineBytes(l), 0),
    };
  };
  return [part(0, mid), part(mid, c.rows.length)];
}
