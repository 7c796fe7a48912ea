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
  const cells = rows.map((row) =>
    columns.map((c) => {
      const v = c.value(row);
      return v === null || v === undefined || v === "" ? "-" : String(v);
    }),
  );
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((r) => r[i]!.length)),
  );
  const line = (values: string[]) =>
    values
      .map((v, i) => {
        const last = i === values.length - 1;
        if (columns[i]!.align === "right") return v.padStart(widths[i]!);
        return last ? v : v.padEnd(widths[i]!);
      })
      .join(GAP)
      .trimEnd();
  return [line(columns.map((c) => c.header)), ...cells.map(line)].join("\n");
}

/** `Label   value` pairs, labels aligned. */
export function renderPairs(pairs: [string, string | number | null | undefined][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length));
  return pairs
    .map(([k, v]) => `${k.padEnd(width)}${GAP}${v === null || v === undefined ? "-" : v}`)
    .join("\n");
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
