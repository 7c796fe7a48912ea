import type { AtEvent } from "@berth/core";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import type { RunningTracker } from "@berth/tracker/tracker";
import { createTrackerClient } from "@berth/tracker-client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunningWorker } from "../src/worker";
import { enqueue, makeEvent } from "./events";
import { outboxCounts, QUERY_KEY, storedCount, trackerOn, waitFor, workerOn } from "./harness";

let t: TestDatabase;
let tracker: RunningTracker;
let worker: RunningWorker | undefined;

beforeAll(async () => {
  t = await createTestDatabase();
  tracker = await trackerOn(t);
});
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
});
afterAll(async () => {
  await tracker?.stop();
  await t?.drop();
});

/** Where each event ended up, seen through the tracker's own export API. */
async function regionsHolding(account: string, id: string): Promise<string[]> {
  const client = createTrackerClient({ url: tracker.url, queryKey: QUERY_KEY });
  const found: string[] = [];
  for (const region of ["ap-north", "ap-south", "eu-central", "uk-south", "us-south", "global"]) {
    const page = await client.export(region, { account, size: 100 });
    if (page.lines.some((l) => l._id === id)) found.push(region);
  }
  return found;
}

async function deliverAll(ids: string[]) {
  await waitFor(
    "delivery",
    () => storedCount(t, ids),
    (n) => n === ids.length,
  );
  await waitFor(
    "empty outbox",
    () => outboxCounts(t),
    (c) => c.pending === 0,
  );
}

/** A worker with `options` (the routing table) delivers `events` to the tracker, all of them. */
async function deliveredBy(options: Parameters<typeof workerOn>[2], events: AtEvent[]) {
  worker = await workerOn(t, tracker.url, options);
  await enqueue(t.db, events);
  await deliverAll(events.map((e) => e.id));
}

describe("routing (DESIGN §2)", () => {
  it("files ap-north's events in ap-south and global's in us-south, under the owner's domain", async () => {
    const north = makeEvent({ region: "ap-north", account: "tokyo-co" });
    const global = makeEvent({
      region: "global",
      account: "global-co",
      action: "container-registry.image.list",
    });
    const uk = makeEvent({ region: "uk-south", account: "london-co" });
    await deliveredBy({}, [north, global, uk]);
    expect(await regionsHolding("tokyo-co", north.id)).toEqual(["ap-south"]);
    expect(await regionsHolding("global-co", global.id)).toEqual(["us-south"]);
    expect(await regionsHolding("london-co", uk.id)).toEqual(["uk-south"]);
    // Filed under the account of the event's CRN, not anyone else's.
    const client = createTrackerClient({ url: tracker.url, queryKey: QUERY_KEY });
    expect((await client.export("ap-south", { account: "london-co" })).lines).toEqual([]);
  });

  it("follows another routing table chosen by configuration", async () => {
    const north = makeEvent({ region: "ap-north", account: "later-co" });
    const south = makeEvent({ region: "ap-south", account: "later-co" });
    await deliveredBy({ routing: "later" }, [north, south]);
    expect(await regionsHolding("later-co", north.id)).toEqual(["ap-north"]);
    expect(await regionsHolding("later-co", south.id)).toEqual(["ap-north"]);
  });

  it("takes an inline table as well", async () => {
    const global = makeEvent({
      region: "global",
      account: "inline-co",
      action: "container-registry.image.list",
    });
    const north = makeEvent({ region: "ap-north", account: "inline-co" });
    await deliveredBy({ routing: "global=eu-central" }, [global, north]);
    expect(await regionsHolding("inline-co", global.id)).toEqual(["eu-central"]);
    // Regions an inline table leaves out route to themselves.
    expect(await regionsHolding("inline-co", north.id)).toEqual(["ap-north"]);
  });

  it("sends each tracker region to its own endpoint with its own key", async () => {
    // Per-region table: ap-south goes to the tracker, every other region nowhere.
    worker = await workerOn(t, `ap-south=${tracker.url}/regions/ap-south`, {
      trackerKeys: "ap-south=test-ingest",
    });
    const north = makeEvent({ region: "ap-north", account: "table-co" });
    const eu = makeEvent({ region: "eu-central", account: "table-co" });
    await enqueue(t.db, [north, eu]);
    await waitFor(
      "delivery",
      () => storedCount(t, [north.id]),
      (n) => n === 1,
    );
    const dead = await waitFor(
      "dead letter",
      () =>
        t.sql<
          { id: string; last_error: string }[]
        >`select id, last_error from outbox where status = 'dead'`,
      (rows) => rows.length === 1,
    );
    expect(dead[0]).toMatchObject({ id: eu.id });
    expect(dead[0]!.last_error).toMatch(/no tracker endpoint is configured for region eu-central/);
    await t.sql`delete from outbox`;
  });
});
