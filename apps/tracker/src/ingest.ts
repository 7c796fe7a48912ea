import { type AtEvent, eventSchema } from "@berth/core";
import type { IngestResult } from "@berth/tracker-client";
import { z } from "zod";

/** Well under the ingestion API's 10 MB body cap; the worker sends far smaller batches. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;
export const MAX_LINES = 10_000;

/** Whole-batch shape; each line's event is checked on its own so one bad line rejects alone. */
export const ingestBodySchema = z.object({
  lines: z
    .array(z.unknown())
    .min(1, "lines must not be empty")
    .max(MAX_LINES, `at most ${MAX_LINES} lines per batch`),
});

export const ingestParamsSchema = z.object({
  hostname: z.string().max(255).optional(),
  now: z.coerce.number().optional(),
});

export interface CheckedBatch {
  /** Valid events to store, each with the index of its line (first occurrence of an id). */
  events: { index: number; event: AtEvent }[];
  /** One result per line; accepted/duplicate of stored events are settled after the insert. */
  results: IngestResult[];
}

function holdsNul(value: unknown): boolean {
  if (typeof value === "string") return value.includes("\0");
  if (typeof value === "object" && value !== null) {
    return Object.entries(value).some(([k, v]) => k.includes("\0") || holdsNul(v));
  }
  return false;
}

function reasonOf(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "event"}: ${i.message}`)
    .join("; ")
    .slice(0, 500);
}

/**
 * Validate each line's event with core's schema; invalid lines are rejected with a reason.
 * `mayHoldNul`: the body has a \u0000 escape somewhere, which Postgres cannot store, so the
 * events are checked for it one by one (otherwise one such event would fail the batch).
 */
export function checkLines(lines: unknown[], mayHoldNul = true): CheckedBatch {
  const events: CheckedBatch["events"] = [];
  const results: IngestResult[] = [];
  const seen = new Set<string>();
  lines.forEach((line, index) => {
    const meta =
      typeof line === "object" && line !== null ? (line as { meta?: unknown }).meta : undefined;
    const rawId =
      typeof meta === "object" && meta !== null ? (meta as { id?: unknown }).id : undefined;
    const id = typeof rawId === "string" ? rawId : null;
    if (meta === undefined) {
      results.push({ index, id, status: "rejected", reason: "line has no meta (the event)" });
      return;
    }
    const parsed = eventSchema.safeParse(meta);
    if (!parsed.success) {
      results.push({ index, id, status: "rejected", reason: reasonOf(parsed.error) });
      return;
    }
    const e = parsed.data;
    if (mayHoldNul && holdsNul(e)) {
      results.push({ index, id: e.id, status: "rejected", reason: "event holds a NUL character" });
      return;
    }
    if (seen.has(e.id)) {
      results.push({ index, id: e.id, status: "duplicate" });
      return;
    }
    seen.add(e.id);
    results.push({ index, id: e.id, status: "accepted" });
    events.push({ index, event: e });
  });
  return { events, results };
}
