import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import type { IngestResponse } from "@berth/tracker-client";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningTracker, startTracker } from "../src/tracker";
import { lineOf, makeEvent } from "./events";

let t: TestDatabase;
let tracker: RunningTracker;
const KEYS = "us-south=key-us,ap-south=key-ap";

beforeAll(async () => {
  t = await createTestDatabase();
  tracker = await startTracker({
    databaseUrl: t.url,
    ingestionKeys: KEYS,
    queryKey: "query-key-123",
    logger: pino({ level: process.env.TEST_LOG ?? "silent" }),
  });
});
afterAll(async () => {
  await tracker?.stop();
  await t?.drop();
});

const basic = (user: string) => `Basic ${Buffer.from(`${user}:`).toString("base64")}`;

async function ingest(region: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${tracker.url}/regions/${region}/logs/ingest?hostname=h1&now=1`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: basic(region === "ap-south" ? "key-ap" : "key-us"),
      ...headers,
    },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as IngestResponse & { error?: string } };
}

async function countStored(): Promise<number> {
  const [r] = await t.sql<{ n: number }[]>`select count(*)::int as n from tracker.events`;
  return r!.n;
}

describe("ingestion", () => {
  it("stores valid events and answers per event", async () => {
    const events = [makeEvent(), makeEvent({ account: "acct2" })];
    const before = await countStored();
    const res = await ingest("us-south", { lines: events.map(lineOf) });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "ok", accepted: 2, duplicates: 0, rejected: 0 });
    expect(res.body.results).toEqual(
      events.map((e, index) => ({ index, id: e.id, status: "accepted" })),
    );
    expect(await countStored()).toBe(before + 2);
    const rows =
      await t.sql`select account_id, region, host from tracker.events where id = ${events[1]!.id}`;
    expect(rows[0]).toEqual({ account_id: "acct2", region: "us-south", host: "h1" });
  });

  it("deduplicates on the event id, across batches and within one", async () => {
    const a = makeEvent();
    const b = makeEvent();
    expect((await ingest("us-south", { lines: [lineOf(a)] })).body.accepted).toBe(1);
    const before = await countStored();
    const res = await ingest("us-south", { lines: [lineOf(a), lineOf(b), lineOf(b)] });
    expect(res.body.results.map((r) => r.status)).toEqual(["duplicate", "accepted", "duplicate"]);
    expect(res.body).toMatchObject({ accepted: 1, duplicates: 2 });
    expect(await countStored()).toBe(before + 1);
  });

  it("rejects invalid events one by one and keeps the others", async () => {
    const good = makeEvent();
    const badSeverity = { ...makeEvent(), severity: "critical" };
    const notUuid = { ...makeEvent(), id: "nope" };
    const res = await ingest("us-south", {
      lines: [lineOf(good), lineOf(badSeverity as never), { line: "x" }, lineOf(notUuid as never)],
    });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r) => r.status)).toEqual([
      "accepted",
      "rejected",
      "rejected",
      "rejected",
    ]);
    expect(res.body.results[1]).toMatchObject({ id: badSeverity.id });
    expect(res.body.results[1]!.reason).toMatch(/severity/);
    expect(res.body.results[2]!.reason).toMatch(/meta/);
    expect(res.body.results[3]!.reason).toMatch(/UUIDv7/);
    const stored = await t.sql`select id from tracker.events where id = ${badSeverity.id}`;
    expect(stored).toHaveLength(0);
  });

  it("answers 4xx only for whole-batch problems", async () => {
    expect((await ingest("us-south", "{not json")).status).toBe(400);
    expect((await ingest("us-south", { lines: [] })).status).toBe(400);
    expect((await ingest("us-south", { nope: 1 })).status).toBe(400);
    const big = "x".repeat(11 * 1024 * 1024);
    expect((await ingest("us-south", { lines: [{ line: big }] })).status).toBe(413);
  });

  it("authenticates each region with its own key, as Basic user or apikey header", async () => {
    const line = lineOf(makeEvent({ region: "ap-north" }));
    expect((await ingest("ap-south", { lines: [line] })).status).toBe(200);
    const wrong = await ingest("ap-south", { lines: [line] }, { authorization: basic("key-us") });
    expect(wrong.status).toBe(401);
    const none = await ingest("ap-south", { lines: [line] }, { authorization: "" });
    expect(none.status).toBe(401);
    const header = await ingest(
      "ap-south",
      { lines: [lineOf(makeEvent())] },
      { authorization: "", apikey: "key-ap" },
    );
    expect(header.status).toBe(200);
  });

  it("serves only the regions it has keys for", async () => {
    const res = await ingest("eu-central", { lines: [lineOf(makeEvent())] });
    expect(res.status).toBe(404);
    expect((await ingest("Not_A_Region", { lines: [] })).status).toBe(404);
  });

  it("counts what it received", async () => {
    const s = tracker.stats();
    expect(s.received).toBe(s.accepted + s.duplicates + s.rejected);
    expect(s.duplicates).toBeGreaterThanOrEqual(2);
    const metrics = await tracker.metrics();
    expect(metrics).toMatch(/berth_tracker_lines_total\{region="us-south",result="accepted"\}/);
  });
});

describe("health", () => {
  it("answers healthz, readyz and metrics", async () => {
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      expect((await fetch(`${tracker.url}${path}`)).status).toBe(200);
    }
  });
});

describe("ingestion edge cases", () => {
  it("rejects an event holding a NUL character alone (Postgres cannot store it)", async () => {
    const good = makeEvent();
    const nul = makeEvent();
    const bad = {
      ...nul,
      initiator: { ...nul.initiator, host: { ...nul.initiator.host, agent: "a\u0000b" } },
    };
    const res = await ingest("us-south", { lines: [lineOf(bad), lineOf(good)] });
    expect(res.status).toBe(200);
    expect(res.body.results.map((r) => r.status)).toEqual(["rejected", "accepted"]);
    expect(res.body.results[0]!.reason).toMatch(/NUL/);
  });

  it("stores the events exactly as sent", async () => {
    const e = makeEvent({ target: "birds/x:y" });
    await ingest("us-south", { lines: [{ ...lineOf(e), extra: "ignored" }] });
    const [row] = await t.sql`select payload from tracker.events where id = ${e.id}`;
    expect(row!.payload).toEqual(e);
  });
});
