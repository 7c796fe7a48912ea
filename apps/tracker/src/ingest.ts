import { type AtEvent, eventSchema, holdsUnstorableText } from "@berth/core";
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
  // Stored as text, which cannot hold a NUL: refused here rather than by the insert (a 500).
  hostname: z
    .string()
    .max(255, "hostname: at most 255 characters")
    .regex(/^\P{Cc}*$/u, "hostname: must not hold control characters")
    .optional(),
  // Not used: a client's clock, as LogDNA takes it; a malformed one is ignored, not refused.
  now: z.coerce.number().optional().catch(undefined),
});

export interface CheckedBatch {
  /** Valid events to store, each with the index of its line (first occurrence of an id). */
  events: { index: number; event: AtEvent }[];
  /** One result per line; accepted/duplicate of stored events are settled after the insert. */
  results: IngestResult[];
}

/**
 * Whether a request body may hold text Postgres' JSON refuses: only escaped, since a raw NUL
 * is not JSON and undecodable bytes arrive as U+FFFD. A false positive (an escaped backslash
 * before `u0000`, a valid surrogate pair) only sends the body the slower, per-event way.
 */
export function mayHoldUnstorable(body: string): boolean {
  // Most bodies hold no \u escape at all (JSON writers escape only what they must), and a plain
  // search is several times faster than the pattern's (30 vs 200 µs for a 0.9 MB body).
  return body.includes("\\u") && UNSTORABLE_ESCAPE.test(body);
}
const UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f])/i;

function reasonOf(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "event"}: ${i.message}`)
    .join("; ")
    .slice(0, 500);
}

/**
 * Validate each line's event with core's schema; invalid lines are rejected with a reason.
 * `checkText`: the body may hold a NUL or a lone surrogate, which Postgres cannot store, so
 * the events are checked for them one by one (else one would fail the batch).
 */
export function checkLines(lines: unknown[], checkText = true): CheckedBatch {
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
    if (checkText && holdsUnstorableText(e)) {
      const reason = "event holds a NUL character or a lone UTF-16 surrogate";
      results.push({ index, id: e.id, status: "rejected", reason });
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
