import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type Page } from "@berth/core";
import { UsageError } from "./errors";
import { str } from "./input";
import { type Column, columnWidths, headerLine, rowLines } from "./table";
import type { CommandContext, OptionSpec } from "./types";

// The list verbs print a list as its pages arrive, following the cursors to the end, so a
// long list starts showing at once and is never held whole in memory.

export const PAGE_SIZE_OPTION: Record<string, OptionSpec> = {
  "page-size": {
    type: "string",
    help: `items fetched per request, 1-${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE})`,
  },
};

function pageSize(ctx: CommandContext): number | undefined {
  const v = str(ctx, "page-size");
  if (v === undefined) return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!(n >= 1 && n <= MAX_PAGE_SIZE)) {
    throw new UsageError(`--page-size is a whole number from 1 to ${MAX_PAGE_SIZE}, not "${v}"`);
  }
  return n;
}

export type Fetch<T> = (page: { limit?: number; cursor?: string }) => Promise<Page<T>>;

export type Printed<T> =
  /** A table: the header with the first page; the columns widen if a later page needs it. */
  | { columns: Column<T>[] }
  /** One line an item (names only), and what `--output json` shows of each. */
  | { line(row: T): string; json(row: T): unknown };

/**
 * Every page of a list on stdout, page by page: a table, one line an item, or (with
 * `--output json`) one JSON array, the same text as the whole list printed at once.
 * Returns undefined: the output is written.
 */
export async function printPages<T>(
  ctx: CommandContext,
  fetch: Fetch<T>,
  printed: Printed<T>,
): Promise<undefined> {
  const out = ctx.io.stdout;
  const limit = pageSize(ctx);
  let cursor: string | undefined;
  let count = 0;
  let widths: number[] | undefined;
  for (;;) {
    const page = await fetch({ ...(limit ? { limit } : {}), ...(cursor ? { cursor } : {}) });
    if (ctx.json) {
      for (const row of page.items) {
        const value = "json" in printed ? printed.json(row) : row;
        const text = JSON.stringify(value, null, 2).replace(/\n/g, "\n  ");
        out.write(`${count === 0 ? "[\n" : ",\n"}  ${text}`);
        count++;
      }
    } else if ("columns" in printed) {
      const first = widths === undefined;
      widths = columnWidths(printed.columns, page.items, widths);
      const lines = rowLines(printed.columns, page.items, widths);
      if (first) lines.unshift(headerLine(printed.columns, widths));
      if (lines.length > 0) out.write(`${lines.join("\n")}\n`);
    } else {
      for (const row of page.items) out.write(`${printed.line(row)}\n`);
    }
    // A cursor given back unchanged would page in a circle: the list ends there.
    if (page.nextCursor === null || page.nextCursor === cursor) break;
    cursor = page.nextCursor;
  }
  if (ctx.json) out.write(count === 0 ? "[]\n" : "\n]\n");
  return undefined;
}
