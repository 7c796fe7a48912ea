import type { BulkResult } from "../api";
import { EXIT_FAILED } from "./errors";
import type { CommandResult } from "./types";

/** Plain-text tables for command mode: aligned columns, no colour, one row a line. */

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | null | undefined;
  align?: "left" | "right";
}

const GAP = "   ";

export function renderTable<T>(columns: Column<T>[], rows: T[]): string {
  const widths = columnWidths(columns, rows);
  return [headerLine(columns, widths), ...rowLines(columns, rows, widths)].join("\n");
}

function cellsOf<T>(columns: Column<T>[], rows: T[]): string[][] {
  return rows.map((row) =>
    columns.map((c) => {
      const v = c.value(row);
      return v === null || v === undefined || v === "" ? "-" : String(v);
    }),
  );
}

/** Widths that fit the headers, `rows` and at least `min` (a table printed in parts). */
export function columnWidths<T>(columns: Column<T>[], rows: T[], min?: number[]): number[] {
  const cells = cellsOf(columns, rows);
  return columns.map((c, i) =>
    Math.max(min?.[i] ?? 0, c.header.length, ...cells.map((r) => r[i]!.length)),
  );
}

function line<T>(columns: Column<T>[], values: string[], widths: number[]): string {
  return values
    .map((v, i) => {
      const last = i === values.length - 1;
      if (columns[i]!.align === "right") return v.padStart(widths[i]!);
      return last ? v : v.padEnd(widths[i]!);
    })
    .join(GAP)
    .trimEnd();
}

export function headerLine<T>(columns: Column<T>[], widths: number[]): string {
  return line(
    columns,
    columns.map((c) => c.header),
    widths,
  );
}

export function rowLines<T>(columns: Column<T>[], rows: T[], widths: number[]): string[] {
  return cellsOf(columns, rows).map((cells) => line(columns, cells, widths));
}

/** `Label   value` pairs, labels aligned. */
export function renderPairs(pairs: [string, string | number | null | undefined][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs
    .map(([k, v]) => `${k.padEnd(width)}${GAP}${v === null || v === undefined ? "-" : v}`)
    .join("\n");
}

/** A record shown as `renderPairs`; `--output json` prints `data`. */
export function pairsOutput(
  data: unknown,
  pairs: [string, string | number | null | undefined][],
): CommandResult {
  return { data, text: renderPairs(pairs) };
}

/** The outcome of a bulk verb, one row a target; exit 1 when any failed. */
export function bulkOutput(verb: string, results: BulkResult[], data: unknown): CommandResult {
  const failed = results.filter((r) => !r.ok);
  const text = renderTable<BulkResult>(
    [
      { header: "TARGET", value: (r) => r.target },
      { header: "RESULT", value: (r) => (r.ok ? verb : "FAILED") },
      { header: "REASON", value: (r) => r.error?.message ?? "" },
    ],
    results,
  );
  return {
    data,
    text,
    ...(failed.length > 0 ? { exitCode: EXIT_FAILED } : {}),
  };
}
