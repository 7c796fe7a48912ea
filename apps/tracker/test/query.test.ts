import type { AtEvent } from "@berth/core";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import {
  createTrackerClient,
  type TrackerClient,
  type TrackerRequestError,
} from "@berth/tracker-client";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningTracker, startTracker } from "../src/tracker";
import { ingestEvents, makeEvent } from "./events";

let t: TestDatabase;
let tracker: RunningTracker;
let client: TrackerClient;
const QUERY_KEY = "query-key-123";
const base = Date.UTC(2024, 0, 1);
const events: AtEvent[] = [];

const ingest = (region: string, batch: AtEvent[]) =>
  ingestEvents(tracker.url, region, batch, { apikey: "k" });

beforeAll(async () => {
  t = await createTestDatabase();
  tracker = await startTracker({
    databaseUrl: t.url,
    ingestionKeys: "k",
    queryKey: QUERY_KEY,
    logger: pino({ level: "silent" }),
  });
  client = createTrackerClient({ url: tracker.url, queryKey: QUERY_KEY });
  // 30 events of acct1 a minute apart, alternating actions/outcomes, plus noise elsewhere.
  for (let i = 0; i < 30; i++) {
    events.push(
      makeEvent({
        time: new Date(base + i * 60_000),
        action:
          i % 3 === 0
            ? "container-registry.namespace.delete"
            : "container-registry.namespace.create",
        outcome: i % 5 === 0 ? "failure" : "success",
        reasonCode: i % 5 === 0 ? 403 : 200,
        target: i % 2 === 0 ? `birds${i}` : `fish${i}`,
        initiator: i < 10 ? "bob" : "alice",
      }),
    );
  }
  await ingest("us-south", events);
  await ingest("us-south", [makeEvent({ account: "other", time: new Date(base) })]);
  await ingest("ap-south", [makeEvent({ region: "ap-north", time: new Date(base) })]);
});
afterAll(async () => {
  await tracker?.stop();
  await t?.drop();
});

const ids = (lines: { _id: string }[]) => lines.map((l) => l._id);
const newestFirst = () => [...events].reverse();

describe("export API", () => {
  it("returns an account domain's events in a region, newest first", async () => {
    const page = await client.export("us-south", { account: "acct1", size: 100 });
    expect(ids(page.lines)).toEqual(ids(newestFirst().map((e) => ({ _id: e.id }))));
    expect(page.pagination_id).toBeNull();
    const line = page.lines[0]!;
    expect(line).toMatchObject({
      _line: events[29]!.message,
      _app: "container-registry",
      _account: "acct1",
      _region: "us-south",
      _ts: base + 29 * 60_000,
      level: "INFO",
    });
    expect(line.event).toEqual(events[29]);
    const ap = await client.export("ap-south", { account: "acct1" });
    expect(ap.lines).toHaveLength(1);
    expect((await client.export("eu-central", { account: "acct1" })).lines).toEqual([]);
  });

  it("paginates with a cursor, without gaps or repeats", async () => {
    const seen: string[] = [];
    let cursor: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await client.export("us-south", {
        account: "acct1",
        size: 7,
        ...(cursor ? { pagination_id: cursor } : {}),
      });
      seen.push(...ids(page.lines));
      if (!page.pagination_id) break;
      cursor = page.pagination_id;
    }
    expect(seen).toEqual(newestFirst().map((e) => e.id));
  });

  it("filters by time range, action, outcome, severity, initiator, target and text", async () => {
    const q = (extra: Record<string, unknown>) =>
      client.export("us-south", { account: "acct1", size: 100, ...extra }).then((p) => p.lines);
    const inRange = await q({ from: String((base + 5 * 60_000) / 1000), to: base + 9 * 60_000 });
    expect(inRange.map((l) => l._ts)).toEqual([9, 8, 7, 6, 5].map((i) => base + i * 60_000));
    const deletes = await q({ action: "container-registry.namespace.delete" });
    expect(deletes).toHaveLength(10);
    const failures = await q({ outcome: "failure" });
    expect(failures).toHaveLength(6);
    expect(failures.every((l) => l.level === "ERROR")).toBe(true);
    // Failures with 403 and successful namespace deletes are critical.
    expect(await q({ severity: ["critical"] })).toHaveLength(6 + 8);
    expect(await q({ severity: "normal,critical" })).toHaveLength(30);
    expect(await q({ initiator: "bob" })).toHaveLength(10);
    expect(ids(await q({ target: "fish7" }))).toEqual([events[7]!.id]);
    expect(ids(await q({ target: events[7]!.target.id }))).toEqual([events[7]!.id]);
    expect(await q({ target: "fish*" })).toHaveLength(15);
    expect(ids(await q({ query: "NAMESPACE FISH13" }))).toEqual([events[13]!.id]);
    expect(await q({ query: "100%_" })).toHaveLength(0);
    const combined = await q({ outcome: "failure", action: "container-registry.namespace.delete" });
    expect(ids(combined)).toEqual([events[15]!.id, events[0]!.id]);
  });

  it("refuses bad queries and wrong keys", async () => {
    const err = (p: Promise<unknown>) => p.catch((e: TrackerRequestError) => e.status);
    expect(await err(client.export("us-south", { account: "" }))).toBe(400);
    expect(await err(client.export("us-south", { account: "a", size: 0 }))).toBe(400);
    expect(await err(client.export("us-south", { account: "a", pagination_id: "zz" }))).toBe(400);
    const wrong = createTrackerClient({ url: tracker.url, queryKey: "nope-nope" });
    expect(await err(wrong.export("us-south", { account: "acct1" }))).toBe(401);
  });
});
