import type { AtEvent } from "@berth/core";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import { createTrackerClient, type TrackerLine } from "@berth/tracker-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningTracker, startTracker } from "../src/tracker";
import { ingestEvents, makeEvent, trackerSettings } from "./events";

let t: TestDatabase;
let ingester: RunningTracker;
let reader: RunningTracker;
const QUERY_KEY = "query-key-123";

beforeAll(async () => {
  t = await createTestDatabase();
  const opts = trackerSettings(t, "k", QUERY_KEY);
  // Two trackers on one database stand for two processes: tails must see across them.
  ingester = await startTracker(opts);
  reader = await startTracker(opts);
});
afterAll(async () => {
  await ingester?.stop();
  await reader?.stop();
  await t?.drop();
});

const ingest = (region: string, batch: AtEvent[]) =>
  ingestEvents(ingester.url, region, batch, { apikey: "k" });

/** Read `n` lines from a tail, bounded in time. */
async function take(stream: AsyncIterable<TrackerLine>, n: number): Promise<TrackerLine[]> {
  const got: TrackerLine[] = [];
  if (n === 0) return got;
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`timed out with ${got.length}/${n} lines`)), 20_000),
  );
  const read = (async () => {
    for await (const line of stream) {
      got.push(line);
      if (got.length >= n) break;
    }
    return got;
  })();
  return Promise.race([read, timeout]);
}

describe("live tail", () => {
  it("streams an account's new events from another tracker process, in order", async () => {
    const client = createTrackerClient({ url: reader.url, queryKey: QUERY_KEY });
    const tail = await client.tail("us-south", { account: "acct1" });
    const mine = [makeEvent(), makeEvent(), makeEvent()];
    await ingest("us-south", [mine[0]!, makeEvent({ account: "other" })]);
    await ingest("ap-south", [makeEvent({ region: "ap-north" })]);
    await ingest("us-south", [mine[1]!, mine[2]!, mine[0]!]);
    const got = await take(tail, 3);
    tail.close();
    expect(got.map((l) => l._id)).toEqual(mine.map((e) => e.id));
    expect(got[0]).toMatchObject({ _account: "acct1", _region: "us-south", event: mine[0] });
  });

  it("applies the export filters", async () => {
    const client = createTrackerClient({ url: reader.url, queryKey: QUERY_KEY });
    const tail = await client.tail("us-south", {
      account: "acct1",
      outcome: "failure",
      target: "fish*",
    });
    const wanted = makeEvent({ outcome: "failure", target: "fish1" });
    await ingest("us-south", [
      makeEvent({ target: "fish1" }),
      makeEvent({ outcome: "failure", target: "birds" }),
      wanted,
    ]);
    const got = await take(tail, 1);
    tail.close();
    expect(got.map((l) => l._id)).toEqual([wanted.id]);
  });

  it("resumes after the last id seen", async () => {
    const client = createTrackerClient({ url: reader.url, queryKey: QUERY_KEY });
    const first = await client.tail("us-south", { account: "resume" });
    const a = makeEvent({ account: "resume" });
    await ingest("us-south", [a]);
    await take(first, 1);
    first.close();
    const missed = [makeEvent({ account: "resume" }), makeEvent({ account: "resume" })];
    await ingest("us-south", missed);
    // The SSE id of a line is its tail position; resume from a's.
    const [row] = await t.sql<
      { seq: string }[]
    >`select seq::text from tracker.events where id = ${a.id}`;
    const again = await client.tail("us-south", { account: "resume" }, { lastEventId: row!.seq });
    // First again what was received shortly before a (a itself: a batch ingested at the same
    // time could commit after it), then what was missed, in order.
    const got = await take(again, 3);
    again.close();
    expect(got.map((l) => l._id)).toEqual([a.id, ...missed.map((e) => e.id)]);
    expect(again.lastEventId).toMatch(/^\d+$/);
    expect(Number(again.lastEventId)).toBeGreaterThan(Number(row!.seq));
  });

  it("refuses an account's tails past the limit, with a clear error, and frees a closed one", async () => {
    const client = createTrackerClient({ url: reader.url, queryKey: QUERY_KEY });
    const open = [];
    for (let i = 0; i < 10; i++) open.push(await client.tail("us-south", { account: "greedy" }));
    await expect(client.tail("us-south", { account: "greedy" })).rejects.toMatchObject({
      status: 429,
      body: expect.stringContaining("too many open tails for this account (at most 10)"),
    });
    // Another account is not held back by this one.
    const other = await client.tail("us-south", { account: "modest" });
    other.close();
    // A closed tail frees its place (once the tracker has seen the connection go).
    open.pop()!.close();
    let again: Awaited<ReturnType<typeof client.tail>> | undefined;
    for (let i = 0; i < 100 && !again; i++) {
      again = await client.tail("us-south", { account: "greedy" }).catch(async () => {
        await new Promise((r) => setTimeout(r, 50));
        return undefined;
      });
    }
    expect(again, "a tail after one was closed").toBeDefined();
    again!.close();
    for (const tail of open) tail.close();
  });

  it("needs the query key", async () => {
    const client = createTrackerClient({ url: reader.url, queryKey: "wrong-key" });
    await expect(client.tail("us-south", { account: "acct1" })).rejects.toMatchObject({
      status: 401,
    });
  });
});
