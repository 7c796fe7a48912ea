/** Printing the figures of scripts. */
import { loadavg } from "node:os";
import type { OpSummary } from "./workload";

/** The machine's load averages (1, 5, 15 minutes), which a figure must be read beside. */
export function loadText(separator = " "): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(separator);
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function ms(value: number): string {
  return Number.isNaN(value) ? "-" : value < 10 ? value.toFixed(1) : value.toFixed(0);
}

export function mb(bytes: number | undefined): string {
  return bytes === undefined ? "-" : (bytes / 1024 / 1024).toFixed(0);
}

/** One line per operation: count, successes, errors by status, p50 and p99 of successes. */
export function printOperations(ops: Record<string, OpSummary>, log = console.log): void {
  log(
    `  ${"operation".padEnd(22)} ${"count".padStart(7)} ${"ok".padStart(7)} ${"p50 ms".padStart(8)} ${"p99 ms".padStart(8)}  errors (status: count)`,
  );
  for (const [op, s] of Object.entries(ops)) {
    const errors = Object.entries(s.errors)
      .map(([status, n]) => `${status}: ${n}`)
      .join(", ");
    log(
      `  ${op.padEnd(22)} ${String(s.count).padStart(7)} ${String(s.ok).padStart(7)} ${ms(s.p50).padStart(8)} ${ms(s.p99).padStart(8)}  ${errors}`,
    );
  }
}
