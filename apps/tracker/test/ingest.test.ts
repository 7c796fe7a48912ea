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

  it("rejects an event time of the right shape that is no real instant, and keeps the others", async () => {
    const good = makeEvent();
    const feb30 = { ...makeEvent(), eventTime: "2026-02-30T10:00:00.00+0000" };
    const year0 = { ...makeEvent(), eventTime: "0000-01-01T00:00:00.00+0000" };
    const res = await ingest("us-south", {
      lines: [lineOf(good), lineOf(feb30 as never), lineOf(year0 as never)],
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results.map((r) => r.status)).toEqual(["accepted", "rejected", "rejected"]);
    expect(res.body.results[1]!.reason).toMatch(/eventTime: is not a real calendar instant/);
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

describe("concurrent ingestion", () => {
  const post = (body: string, host: string) =>
    fetch(`${tracker.url}/regions/us-south/logs/ingest?hostname=${host}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: basic("key-us") },
      body,
    }).then(async (res) => ({ status: res.status, body: (await res.json()) as IngestResponse }));
  const transactions = async () =>
    [
      ...(await tracker.metrics()).matchAll(
        /^berth_tracker_ingest_transactions_total\{[^}]*\} (\d+)/gm,
      ),
    ].reduce((n, m) => n + Number(m[1]), 0);

  /**
   * Holds the log row of `account` locked, so that the tracker's next transaction for it waits
   * and the requests sent meanwhile queue behind it; `release` lets them through.
   */
  async function holdDomain(account: string) {
    // The domain's log row exists once one event of it is stored.
    await ingest("us-south", { lines: [lineOf(makeEvent({ account }))] });
    let release!: () => void;
    const released = new Promise<void>((r) => {
      release = r;
    });
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => {
      locked = r;
    });
    const holder = t.sql.begin(async (tx) => {
      await tx`select 1 from tracker.logs where account_id = ${account} for update`;
      locked();
      await released;
    });
    await isLocked;
    /** Resolves once a tracker statement waits for the lock. */
    const waited = async () => {
      for (let i = 0; i < 200; i++) {
        const [w] = await t.sql<{ n: number }[]>`
          select count(*)::int as n from pg_stat_activity
           where application_name = 'berth-tracker' and wait_event_type = 'Lock'`;
        if (w!.n > 0) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error("no tracker statement ever waited for the held domain lock");
    };
    return {
      waited,
      release: () => {
        release();
        return holder;
      },
    };
  }

  it("stores requests that arrive together in one transaction, each answered for its own lines", async () => {
    const account = "grouped";
    const held = await holdDomain(account);
    const before = await transactions();
    // The first request takes the lock's wait; the ones after it queue for the next transaction.
    const first = post(JSON.stringify({ lines: [lineOf(makeEvent({ account }))] }), "h-first");
    await held.waited();
    const shared = makeEvent({ account });
    const bodies = Array.from({ length: 6 }, (_, i) => {
      const own = [makeEvent({ account }), makeEvent({ account: "grouped2" })];
      const lines = [...own.map(lineOf)];
      if (i === 1 || i === 4) lines.push(lineOf(shared)); // the same event in two requests
      // A NUL makes this body take the other path (events written again, not the raw body).
      if (i === 2) lines.push(lineOf({ ...makeEvent({ account }), message: "a\u0000b" }));
      return { own, body: JSON.stringify({ lines }) };
    });
    const rest = bodies.map((b, i) => post(b.body, `h${i}`));
    // Time for the six to arrive and queue (loopback; they wait for the lock, not for this).
    await new Promise((r) => setTimeout(r, 2000));
    await held.release();
    const answers = await Promise.all([first, ...rest]);
    for (const a of answers) expect(a.status, JSON.stringify(a.body)).toBe(200);
    const after = await transactions();
    expect(after - before, "transactions for 7 requests, 6 of them queued together").toBeLessThan(
      7,
    );
    // The shared event is accepted by one request and a duplicate for the other.
    const sharedStatuses = [answers[2]!, answers[5]!].map(
      (a) => a.body.results.find((r) => r.id === shared.id)!.status,
    );
    expect(sharedStatuses.sort()).toEqual(["accepted", "duplicate"]);
    expect(answers[3]!.body.results.map((r) => r.status)).toEqual([
      "accepted",
      "accepted",
      "rejected",
    ]);
    // Each event once, with its own request's host.
    for (const [i, b] of bodies.entries()) {
      for (const e of b.own) {
        const rows = await t.sql`select host from tracker.events where id = ${e.id}`;
        expect(rows, `event ${e.id} of request ${i}`).toEqual([{ host: `h${i}` }]);
      }
    }
    const [n] = await t.sql<{ n: number }[]>`
      select count(*)::int as n from tracker.events where id = ${shared.id}`;
    expect(n!.n).toBe(1);
    // The domain's log: one index per event, no gap, in the order the events were stored.
    const log = await t.sql<{ idx: string }[]>`
      select log_index::text as idx from tracker.events
       where account_id = ${account} and region = 'us-south' order by seq`;
    expect(log.map((r) => Number(r.idx))).toEqual(log.map((_, i) => i));
    const [size] = await t.sql<{ size: string }[]>`
      select size::text from tracker.logs where account_id = ${account} and region = 'us-south'`;
    expect(Number(size!.size)).toBe(log.length);
  });

  it("a request that Postgres refuses fails alone, not the requests it was grouped with", async () => {
    const account = "poisoned";
    // What Postgres refuses: the test cannot foresee what that will be, so a trigger plays it.
    await t.sql.unsafe(`
      create function tracker.refuse_poison() returns trigger language plpgsql as $$
      begin raise exception 'poison'; end $$;
      create trigger refuse_poison before insert on tracker.events
        for each row when (new.host = 'h-poison') execute function tracker.refuse_poison()`);
    try {
      const held = await holdDomain(account);
      const first = post(JSON.stringify({ lines: [lineOf(makeEvent({ account }))] }), "h-first");
      await held.waited();
      const good = makeEvent({ account });
      const answers = [
        post(JSON.stringify({ lines: [lineOf(makeEvent({ account }))] }), "h-poison"),
        post(JSON.stringify({ lines: [lineOf(good)] }), "h-good"),
      ];
      await new Promise((r) => setTimeout(r, 2000));
      await held.release();
      const [a, p, g] = await Promise.all([first, ...answers]);
      expect(a!.status).toBe(200);
      expect(p!.status, "the request Postgres refused").toBe(500);
      expect(g!.status, `its neighbour: ${JSON.stringify(g!.body)}`).toBe(200);
      expect(g!.body.accepted).toBe(1);
      const rows = await t.sql`select host from tracker.events where id = ${good.id}`;
      expect(rows).toEqual([{ host: "h-good" }]);
    } finally {
      await t.sql.unsafe(`drop trigger refuse_poison on tracker.events;
        drop function tracker.refuse_poison()`);
    }
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

  it("rejects an event holding a lone UTF-16 surrogate alone (JSON to JavaScript, not to Postgres)", async () => {
    const good = makeEvent();
    // The first line's agent only: replace() with a string replaces once.
    const body = JSON.stringify({ lines: [lineOf(makeEvent()), lineOf(good)] }).replace(
      '"agent":"test"',
      '"agent":"test\\ud800"',
    );
    const res = await ingest("us-south", body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results.map((r) => r.status)).toEqual(["rejected", "accepted"]);
    expect(res.body.results[0]!.reason).toMatch(/lone UTF-16 surrogate/);
    // A pair, escaped, is text like any other.
    const pair = makeEvent();
    const ok = await ingest(
      "us-south",
      JSON.stringify({ lines: [lineOf(pair)] }).replace(
        '"agent":"test"',
        '"agent":"\\ud83d\\ude00"',
      ),
    );
    expect(ok.body.results.map((r) => r.status)).toEqual(["accepted"]);
    const [row] = await t.sql`select payload->'initiator'->'host'->>'agent' as a
      from tracker.events where id = ${pair.id}`;
    expect(row!.a).toBe("\u{1F600}");
  });

  it("rejects, line by line, event data JSON cannot carry: 1e400, nesting past 32 levels", async () => {
    const good = makeEvent();
    const withData = (data: string) =>
      JSON.stringify(lineOf(makeEvent())).replace('"meta":{', `"meta":{"requestData":${data},`);
    const deep = `{"n":${"[".repeat(100_000)}${"]".repeat(100_000)}}`;
    const res = await ingest(
      "us-south",
      `{"lines":[${withData('{"n":1e400}')},${withData(deep)},${JSON.stringify(lineOf(good))}]}`,
    );
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.results.map((r) => r.status)).toEqual(["rejected", "rejected", "accepted"]);
    expect(res.body.results[0]!.reason).toMatch(/requestData: holds a number JSON cannot write/);
    expect(res.body.results[1]!.reason).toMatch(/requestData: nests deeper than 32 levels/);
  });

  it("stores the events of a body Postgres cannot read outside them", async () => {
    // Fields beside the lines are not looked at, but Postgres parses the whole body.
    for (const extra of ['"x":1e1000000', `"x":${"[".repeat(100_000)}${"]".repeat(100_000)}`]) {
      const e = makeEvent();
      const res = await ingest("us-south", `{${extra},"lines":[${JSON.stringify(lineOf(e))}]}`);
      expect(res.status, `${extra.slice(0, 12)}: ${JSON.stringify(res.body)}`).toBe(200);
      expect(res.body.accepted).toBe(1);
      const [row] = await t.sql`select payload from tracker.events where id = ${e.id}`;
      expect(row!.payload).toEqual(e);
    }
  });

  it("refuses a hostname it could not store (a NUL), and a long one, as a whole batch", async () => {
    const before = await countStored();
    for (const [host, message] of [
      ["a%00b", /hostname: must not hold control characters/],
      ["h".repeat(256), /hostname: at most 255 characters/],
    ] as const) {
      const res = await fetch(`${tracker.url}/regions/us-south/logs/ingest?hostname=${host}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: basic("key-us") },
        body: JSON.stringify({ lines: [lineOf(makeEvent())] }),
      });
      expect(res.status, host.slice(0, 10)).toBe(400);
      expect(await res.text()).toMatch(message);
    }
    expect(await countStored()).toBe(before);
    // A client clock that is not a number is ignored, as before.
    const ok = await fetch(`${tracker.url}/regions/us-south/logs/ingest?hostname=h&now=soon`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: basic("key-us") },
      body: JSON.stringify({ lines: [lineOf(makeEvent())] }),
    });
    expect(ok.status).toBe(200);
  });

  it("stores the events exactly as sent", async () => {
    const e = makeEvent({ target: "birds/x:y" });
    await ingest("us-south", { lines: [{ ...lineOf(e), extra: "ignored" }] });
    const [row] = await t.sql`select payload from tracker.events where id = ${e.id}`;
    expect(row!.payload).toEqual(e);
  });
});
