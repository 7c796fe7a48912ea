import type { AtEvent } from "@berth/core";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import { createTrackerClient, type TrackerLine } from "@berth/tracker-client";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mergeNotes } from "../src/notify";
import { insertEvents } from "../src/store";
import { type RunningTracker, startTracker } from "../src/tracker";
import { ingestEvents, makeEvent, trackerSettings } from "./events";

let t: TestDatabase;
let ingester: RunningTracker;
let reader: RunningTracker;
let sql: postgres.Sql;
const QUERY_KEY = "query-key-123";
const LAG_MS = 1500;

beforeAll(async () => {
  t = await createTestDatabase();
  const opts = { ...trackerSettings(t, "k", QUERY_KEY), tailSweepLagMs: LAG_MS };
  ingester = await startTracker(opts);
  reader = await startTracker(opts);
  sql = postgres(t.url, { max: 2, onnotice: () => {} });
});
afterAll(async () => {
  await ingester?.stop();
  await reader?.stop();
  await sql?.end();
  await t?.drop();
});

const ingest = (batch: AtEvent[]) => ingestEvents(ingester.url, "us-south", batch, { apikey: "k" });

/**
 * What a tracker that dies between a batch's commit and its notification leaves: the batch
 * stored, never announced (insertEvents commits and hands back the notification unsent).
 */
const commitUnannounced = (batch: AtEvent[]) =>
  insertEvents(
    sql,
    "us-south",
    "",
    batch.map((event, index) => ({ index, event, stored: event })),
  );

/** Every line a tail gets until `n` of them, then for `settleMs` more (strays would show). */
async function collect(
  stream: AsyncIterable<TrackerLine>,
  n: number,
  settleMs: number,
): Promise<TrackerLine[]> {
  const got: TrackerLine[] = [];
  const deadline = Date.now() + 20_000;
  let enough: number | undefined;
  const iterator = stream[Symbol.asyncIterator]();
  for (;;) {
    const until = enough ?? deadline;
    const next = await Promise.race([
      iterator.next(),
      new Promise<"time">((r) => setTimeout(() => r("time"), Math.max(0, until - Date.now()))),
    ]);
    if (next === "time" || next.done) break;
    got.push(next.value);
    if (got.length >= n && enough === undefined) enough = Date.now() + settleMs;
  }
  return got;
}

describe("tail notifications sent after the commit", () => {
  it("a batch whose notification never went out still reaches the tail (the sweep), in full", async () => {
    const client = createTrackerClient({ url: reader.url, queryKey: QUERY_KEY });
    const tail = await client.tail("us-south", { account: "lost" });
    const unannounced = [makeEvent({ account: "lost" }), makeEvent({ account: "lost" })];
    const { note } = await commitUnannounced(unannounced);
    expect(note, "the batch was stored").toBeDefined();
    const announced = makeEvent({ account: "lost" });
    await ingest([announced]);
    const got = await collect(tail, 3, 2 * LAG_MS);
    tail.close();
    // The announced row at once; the others once their range is swept, each once.
    expect(got.map((l) => l._id).sort()).toEqual(
      [announced, ...unannounced].map((e) => e.id).sort(),
    );
    expect(got[0]!._id).toBe(announced.id);
  });

  it("a tail of account A never gets B's rows, whether announced together or found by the sweep", async () => {
    const client = createTrackerClient({ url: reader.url, queryKey: QUERY_KEY });
    const tail = await client.tail("us-south", { account: "iso-a" });
    // B tails on the same process: the hub reads A's and B's rows together.
    const tailB = await client.tail("us-south", { account: "iso-b" });
    const mine: AtEvent[] = [];
    const batches: AtEvent[][] = [];
    // Concurrent batches of many accounts (past 20 a notification says "any account"), so
    // their notifications are coalesced; A's rows are among B's and others'.
    for (let b = 0; b < 6; b++) {
      const batch: AtEvent[] = [];
      for (let i = 0; i < 25; i++) batch.push(makeEvent({ account: `iso-${i}` }));
      const a = makeEvent({ account: "iso-a" });
      batch.push(makeEvent({ account: "iso-b" }), a, makeEvent({ account: "iso-b" }));
      mine.push(a);
      batches.push(batch);
    }
    const lostA = makeEvent({ account: "iso-a" });
    await Promise.all([
      ...batches.map(ingest),
      commitUnannounced([makeEvent({ account: "iso-b" }), lostA, makeEvent({ account: "iso-c" })]),
    ]);
    const [got, gotB] = await Promise.all([
      collect(tail, mine.length + 1, 2 * LAG_MS),
      collect(tailB, 2 * batches.length + 1, 2 * LAG_MS),
    ]);
    tail.close();
    tailB.close();
    expect(got.filter((l) => l._account !== "iso-a").map((l) => l._account)).toEqual([]);
    expect(got.map((l) => l._id).sort()).toEqual([...mine, lostA].map((e) => e.id).sort());
    expect(gotB.filter((l) => l._account !== "iso-b").map((l) => l._account)).toEqual([]);
    expect(gotB).toHaveLength(2 * batches.length + 1);
  });

  it("coalesced notifications merge a region's overlapping or adjacent ranges, never regions", () => {
    expect(
      mergeNotes([
        { r: "us-south", lo: 11, hi: 20, a: ["b"] },
        { r: "us-south", lo: 1, hi: 10, a: ["a"] },
        { r: "eu-de", lo: 21, hi: 30, a: ["a"] },
        { r: "us-south", lo: 31, hi: 40, a: ["c"] },
        { r: "us-south", lo: 35, hi: 36, a: null },
      ]),
    ).toEqual([
      { r: "eu-de", lo: 21, hi: 30, a: ["a"] },
      { r: "us-south", lo: 1, hi: 20, a: ["a", "b"] },
      { r: "us-south", lo: 31, hi: 40, a: null },
    ]);
  });
});
