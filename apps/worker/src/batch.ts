import type { DeliveryRow } from "@berth/db";
import { APP_NAME, levelOf } from "@berth/tracker-client";

export interface Chunk {
  rows: DeliveryRow[];
  lines: string[];
  bytes: number;
}

/** The tracker's format: UTC with hundredths, "+0000". Falls back to the commit time. */
function timestampOf(row: DeliveryRow): number {
  const ms = Date.parse(`${row.eventTime.slice(0, 22)}0Z`);
  return Number.isNaN(ms) ? row.createdAt.getTime() : ms;
}

/**
 * One ingestion line, written as text: the payload is already JSON (straight from the
 * outbox), so it is spliced in rather than parsed and serialised again.
 */
export function lineOf(row: DeliveryRow): string {
  return `{"timestamp":${timestampOf(row)},"line":${JSON.stringify(row.message)},"app":"${APP_NAME}","level":"${levelOf(row.severity)}","meta":${row.payload}}`;
}

/** Split rows into request bodies bounded by line count and bytes. */
export function chunk(rows: DeliveryRow[], maxLines: number, maxBytes: number): Chunk[] {
  const out: Chunk[] = [];
  let current: Chunk = { rows: [], lines: [], bytes: 0 };
  for (const row of rows) {
    const line = lineOf(row);
    const size = Buffer.byteLength(line) + 1;
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

export function bodyOf(c: Chunk): Buffer {
  return Buffer.from(`{"lines":[${c.lines.join(",")}]}`);
}

export function halves(c: Chunk): [Chunk, Chunk] {
  const mid = Math.ceil(c.rows.length / 2);
  const part = (from: number, to: number): Chunk => {
    const lines = c.lines.slice(from, to);
    return {
      rows: c.rows.slice(from, to),
      lines,
      bytes: lines.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0),
    };
  };
  return [part(0, mid), part(mid, c.rows.length)];
}
