import { eventSchema } from "@berth/core";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import { INGESTION_KEY, type ServiceProcess, startTrackerProcess } from "@berth/harness";
import { makeEvent } from "@berth/tracker-client/testing";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The tracker's ingestion API under arbitrary batches (it is a process of its own; tested
// here from the outside, as the worker and any LogDNA client reach it). A batch is refused
// as a whole only for its shape (4xx); otherwise every line gets its own result, exactly the
// valid events are stored, each once, and nothing else changes.

let t: TestDatabase;
let tracker: ServiceProcess;
let runs = 0;
beforeAll(async () => {
  t = await createTestDatabase();
  tracker = await startTrackerProcess({ databaseUrl: t.url });
});
afterAll(async () => {
  console.log(`tracker ingestion batches tried: ${runs}`);
  await tracker?.stop();
  await t?.drop();
});

/** A valid event, or one with a field replaced by something arbitrary. */
const meta = fc.oneof(
  fc.constant(null).map(() => makeEvent()),
  fc
    .tuple(
      fc.constantFrom(
        "id",
        "eventTime",
        "action",
        "outcome",
        "severity",
        "target",
        "initiator",
        "reason",
        "message",
        "logSourceCRN",
        "correlationId",
        "requestData",
      ),
      // Postgres's JSON refuses NUL and lone surrogates; JavaScript's takes them.
      fc.oneof(fc.jsonValue(), fc.string(), fc.constantFrom("\u0000", "\ud800", { k: "\udc00" })),
    )
    .map(([field, value]) => ({ ...makeEvent(), [field]: value }) as unknown),
  fc.jsonValue(),
);
const line = fc.oneof(
  meta.map((m) => ({ timestamp: Date.now(), line: "x", app: "container-registry", meta: m })),
  fc.jsonValue(),
);
const body = fc.oneof(
  fc.array(line, { minLength: 1, maxLength: 8 }).map((lines) => JSON.stringify({ lines })),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string(),
);

describe("tracker ingestion", () => {
  it("answers every batch with per-line results or a 4xx, and stores exactly the valid events", async () => {
    await fc.assert(
      fc.asyncProperty(body, async (text) => {
        runs++;
        const [{ n: before }] = (await t.sql`
          select count(*)::int as n from tracker.events`) as unknown as [{ n: number }];
        const res = await fetch(`${tracker.url}/regions/us-south/logs/ingest?hostname=fuzz`, {
          method: "POST",
          headers: { "content-type": "application/json", apikey: INGESTION_KEY },
          body: text,
        });
        const answer = await res.text();
        expect(res.status, answer).toBeLessThan(500);
        const [{ n: after }] = (await t.sql`
          select count(*)::int as n from tracker.events`) as unknown as [{ n: number }];
        if (res.status !== 200) {
          expect(res.status, answer).toBeGreaterThanOrEqual(400);
          expect(after).toBe(before);
          return;
        }
        const lines = (JSON.parse(text) as { lines: { meta?: unknown }[] }).lines;
        const results = (JSON.parse(answer) as { results: { index: number; status: string }[] })
          .results;
        expect(results).toHaveLength(lines.length);
        let accepted = 0;
        lines.forEach((l, i) => {
          const m = typeof l === "object" && l !== null ? l.meta : undefined;
          // JSON.stringify escapes exactly these: a NUL, a lone surrogate.
          const storable = !/\\u(0000|d[89a-f])/i.test(JSON.stringify(m));
          const valid = eventSchema.safeParse(m).success && storable;
          const status = results.find((r) => r.index === i)?.status;
          if (valid) expect(["accepted", "duplicate"], JSON.stringify(m)).toContain(status);
          else expect(status, JSON.stringify(m)).toBe("rejected");
          if (status === "accepted") accepted++;
        });
        expect(after - before).toBe(accepted);
      }),
      { numRuns: Number(process.env.BERTH_PROPERTY_RUNS ?? 100) * 2 },
    );
  });
});
