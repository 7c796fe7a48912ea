import { TextInput } from "@inkjs/ui";
import { Box, Text } from "ink";
import { type ReactNode, useMemo, useState } from "react";
import { truncate } from "../format";
import { useCapture, useKeys } from "./context";

export interface TableColumn<T> {
  header: string;
  /** Fixed width; the columns without one share what is left. */
  width?: number;
  value(row: T): string;
  color?(row: T): string | undefined;
  align?: "right";
}

/** Rows in a window that follows the selection; the selected row is inverted. */
export function Table<T>({
  columns,
  rows,
  selected,
  height,
  width,
  marked,
  rowKey,
  empty,
}: {
  columns: TableColumn<T>[];
  rows: T[];
  selected: number;
  /** Lines including the header. */
  height: number;
  width: number;
  marked?: ReadonlySet<string>;
  rowKey?(row: T): string;
  empty?: string;
}) {
  const markWidth = marked ? 2 : 0;
  const fixed = columns.reduce((s, c) => s + (c.width ?? 0), 0);
  const flexible = columns.filter((c) => c.width === undefined).length;
  const gaps = columns.length - 1;
  const share = flexible
    ? Math.max(4, Math.floor((width - markWidth - fixed - gaps) / flexible))
    : 0;
  const widths = columns.map((c) => c.width ?? share);
  const cell = (text: string, i: number) => {
    const w = widths[i]!;
    const t = truncate(text, w);
    return columns[i]!.align === "right" ? t.padStart(w) : t.padEnd(w);
  };
  const visible = Math.max(1, height - 1);
  const start = Math.min(
    Math.max(0, selected - Math.floor(visible / 2)),
    Math.max(0, rows.length - visible),
  );
  const window = rows.slice(start, start + visible);
  return (
    <Box flexDirection="column" height={height}>
      <Text bold dimColor wrap="truncate">
        {" ".repeat(markWidth)}
        {columns.map((c, i) => cell(c.header, i)).join(" ")}
      </Text>
      {rows.length === 0 ? <Text dimColor>{empty ?? "nothing here"}</Text> : null}
      {window.map((row, n) => {
        const index = start + n;
        const isSelected = index === selected;
        const isMarked = marked && rowKey ? marked.has(rowKey(row)) : false;
        return (
          <Text key={rowKey ? rowKey(row) : index} inverse={isSelected} wrap="truncate">
            {marked ? <Text color="magenta">{isMarked ? "● " : "  "}</Text> : null}
            {columns.map((c, i) => (
              <Text key={c.header} color={c.color?.(row)}>
                {cell(c.value(row), i)}
                {i < columns.length - 1 ? " " : ""}
              </Text>
            ))}
          </Text>
        );
      })}
    </Box>
  );
}

export interface ListState<T> {
  rows: T[];
  selected: number;
  current: T | undefined;
  filter: string;
  filtering: boolean;
  marked: ReadonlySet<string>;
  /** The rows to act on: the marked ones, or else the selected one. */
  targets: T[];
  clearMarks(): void;
  filterBar(width: number): ReactNode;
}

/**
 * Selection, `/` filtering and space-marking over rows; keys ↑↓ j k PgUp PgDn. Active only
 * while `active` (no form or dialog of the screen is open).
 */
export function useList<T>(
  all: T[],
  opts: {
    active: boolean;
    text(row: T): string;
    key(row: T): string;
    page: number;
    multi?: boolean;
  },
): ListState<T> {
  const [selected, setSelected] = useState(0);
  const [filter, setFilter] = useState("");
  const [filtering, setFiltering] = useState(false);
  const [marked, setMarked] = useState<ReadonlySet<string>>(new Set());
  useCapture(filtering);
  const rows = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return f ? all.filter((r) => opts.text(r).toLowerCase().includes(f)) : all;
  }, [all, filter, opts.text]);
  const clamped = Math.min(selected, Math.max(0, rows.length - 1));
  const move = (to: number) => setSelected(Math.max(0, Math.min(rows.length - 1, to)));
  useKeys((input, key) => {
    if (key.upArrow || input === "k") move(clamped - 1);
    else if (key.downArrow || input === "j") move(clamped + 1);
    else if (key.pageUp) move(clamped - opts.page);
    else if (key.pageDown) move(clamped + opts.page);
    else if (input === "/") setFiltering(true);
    else if (input === " " && opts.multi && rows[clamped]) {
      const k = opts.key(rows[clamped]!);
      setMarked((m) => {
        const n = new Set(m);
        if (n.has(k)) n.delete(k);
        else n.add(k);
        return n;
      });
      move(clamped + 1);
    }
  }, opts.active && !filtering);
  useKeys((_input, key) => {
    if (key.escape) {
      setFilter("");
      setFiltering(false);
    }
  }, opts.active && filtering);
  const current = rows[clamped];
  const targets =
    marked.size > 0 ? all.filter((r) => marked.has(opts.key(r))) : current ? [current] : [];
  return {
    rows,
    selected: clamped,
    current,
    filter,
    filtering,
    marked,
    targets,
    clearMarks: () => setMarked(new Set()),
    filterBar: (width) =>
      filtering ? (
        <Box width={width}>
          <Text color="cyan">/ </Text>
          <TextInput
            defaultValue={filter}
            placeholder="filter"
            onChange={(v) => {
              setFilter(v);
              setSelected(0);
            }}
            onSubmit={() => setFiltering(false)}
          />
        </Box>
      ) : filter ? (
        <Text dimColor>
          filter: <Text color="cyan">{filter}</Text> ({rows.length} of {all.length}) · / to change
        </Text>
      ) : null,
  };
}
