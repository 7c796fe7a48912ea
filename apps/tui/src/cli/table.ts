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
