import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import {
  type Checkpoint,
  checkAgainstPrevious,
  decodeVerifierKey,
  describeProblem,
  eventLeafHash,
  type Hash,
  type LogEntry,
  openCheckpoint,
  parseTlogProof,
  verifyEntries,
  verifyInclusion,
} from "@berth/tlog";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningTracker, startTracker } from "../src/tracker";
import { ingestEvents, lineOf, makeEvent, trackerSettings } from "./events";

let t: TestDatabase;
let a: RunningTracker;
let b: RunningTracker;
const QUERY = "query-key-123";
const auth = (key: string) => ({
  authorization: `Basic ${Buffer.from(`${key}:`).toString("base64")}`,
});

beforeAll(async () => {
  t = await createTestDatabase();
  const common = trackerSettings(t, "key-us", QUERY);
  const { generateSigningKey, encodeSigningKey } = await import("@berth/tlog");
  const signingKey = encodeSigningKey(generateSigningKey("berth.tracker"));
  // Two tracker processes' worth of servers on one database, as a region would run them.
  a = await startTracker({ ...common, signingKey });
  b = await startTracker({ ...common, signingKey, migrate: false });
});
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await t?.drop();
});

const ingest = (tracker: RunningTracker, events: ReturnType<typeof makeEvent>[]) =>
  ingestEvents(tracker.url, "us-south", events, auth("key-us"));

async function get<T>(path: string): Promise<T> {
  const res = await fetch(`${a.url}/regions/us-south/v2/log/${path}`, { headers: auth(QUERY) });
  const text = await res.text();
  expect(res.status, `${path}: ${text}`).toBe(200);
  return (res.headers.get("content-type") ?? "").includes("json")
    ? (JSON.parse(text) as T)
    : (text as T);
}

const key = () => decodeVerifierKey(a.verifierKey);

/** The value of one series (its name and labels, as printed) on a tracker's /metrics; 0 if absent. */
async function metric(tracker: RunningTracker, series: string): Promise<number> {
  const line = (await tracker.metrics()).split("\n").find((l) => l.startsWith(`${series} `));
  return Number(line?.slice(series.length + 1) ?? 0);
}
const REMEMBERED = 'berth_tracker_ingest_transactions_total{placed="remembered"}';
const LOCKED = 'berth_tracker_ingest_transactions_total{placed="locked"}';
const REFUSED = "berth_tracker_ingest_refused_writes_total";

/** The newest checkpoint once it covers the whole log (another process's checkpointer may be signing it). */
async function latest(account: string): Promise<Checkpoint> {
  const [log] = await t.sql<
    { size: number }[]
  >`select size::int from tracker.logs where account_id = ${account}`;
  let checkpoint = "";
  for (let i = 0; i < 300; i++) {
    await a.checkpointNow();
    const res = await fetch(`${a.url}/regions/us-south/v2/log/checkpoint?account=${account}`, {
      headers: auth(QUERY),
    });
    const body = (await res.json()) as { size?: number; checkpoint?: string };
    checkpoint = body.checkpoint ?? "";
    if (body.size === log?.size) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const opened = openCheckpoint(checkpoint, key(), `berth.tracker/us-south/${account}`);
  if (!opened.ok) throw new Error(opened.reason);
  return opened.checkpoint;
}

async function verifyAll(account: string, cp: Checkpoint) {
  const { entries } = await get<{
    entries: { index: number; id: string; leaf: string | null; event: unknown }[];
  }>(`entries?account=${account}&start=0&end=${cp.size}`);
  const { proof } = await get<{ proof: string[] }>(
    `proof/range?account=${account}&start=0&end=${cp.size}&size=${cp.size}`,
  );
  const logEntries: LogEntry[] = entries.map(({ leaf, ...e }) => ({
    ...e,
    ...(leaf ? { leaf: Buffer.from(leaf, "base64") } : {}),
  }));
  return verifyEntries({
    checkpoint: cp,
    start: 0,
    end: cp.size,
    entries: logEntries,
    proof: proof.map((p) => Buffer.from(p, "base64")),
  }).map(describeProblem);
}

describe("the verifiable log", () => {
  it("two tracker processes ingesting one account concurrently give one gap-free order; redeliveries never enter twice", async () => {
    const batches = Array.from({ length: 12 }, () =>
      Array.from({ length: 25 }, () => makeEvent({ account: "acct-log" })),
    );
    await Promise.all(batches.map((batch, i) => ingest(i % 2 === 0 ? a : b, batch)));
    await Promise.all(batches.slice(0, 4).map((batch, i) => ingest(i % 2 === 0 ? b : a, batch)));
    const rows = await t.sql<{ log_index: number }[]>`
      select log_index::int from tracker.events where account_id = 'acct-log' order by log_index`;
    expect(rows.map((r) => r.log_index)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    const [log] = await t.sql<
      { size: number }[]
    >`select size::int from tracker.logs where account_id = 'acct-log'`;
    expect(log?.size).toBe(300);
  });

  it("the process that wrote a log last appends to it in one statement; one that another process grew is placed again under its lock", async () => {
    const account = "acct-remembered";
    const placed = (tracker: RunningTracker, how: "remembered" | "locked") =>
      metric(tracker, how === "remembered" ? REMEMBERED : LOCKED);
    const batch = () => Array.from({ length: 10 }, () => makeEvent({ account }));
    const before = { remembered: await placed(a, "remembered"), locked: await placed(a, "locked") };
    // Unknown to a at first: placed under the lock; then from what a wrote.
    for (let i = 0; i < 3; i++) await ingest(a, batch());
    expect(await placed(a, "remembered"), "a's later writes were placed from its own").toBe(
      before.remembered + 2,
    );
    expect(await placed(a, "locked")).toBe(before.locked + 1);
    // b grows the log; a's remembered state is stale: its next write must not use it.
    await ingest(b, batch());
    await ingest(a, batch());
    expect(await placed(a, "locked"), "a placed again under the lock after b grew the log").toBe(
      before.locked + 2,
    );
    expect(await placed(a, "remembered")).toBe(before.remembered + 2);
    // A redelivery to the process that wrote last: found stored, never entered twice.
    const last = batch();
    await ingest(a, last);
    await ingest(a, last);
    const rows = await t.sql<{ log_index: number }[]>`
      select log_index::int from tracker.events where account_id = ${account} order by log_index`;
    expect(rows.map((r) => r.log_index)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(await verifyAll(account, await latest(account))).toEqual([]);
  });

  it("two processes taking turns on one log each pay one refused one-statement write, then place under the lock while the other grows it", async () => {
    const account = "acct-turns";
    const refused = (tracker: RunningTracker) => metric(tracker, REFUSED);
    const before = (await refused(a)) + (await refused(b));
    for (let i = 0; i < 10; i++) {
      await ingest(
        i % 2 === 0 ? a : b,
        Array.from({ length: 5 }, () => makeEvent({ account })),
      );
    }
    // Without the contention window each write from the third on would be refused (8).
    expect((await refused(a)) + (await refused(b)) - before, "refused one-statement writes").toBe(
      2,
    );
    const rows = await t.sql<{ log_index: number }[]>`
      select log_index::int from tracker.events where account_id = ${account} order by log_index`;
    expect(rows.map((r) => r.log_index)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(await verifyAll(account, await latest(account))).toEqual([]);
  });

  it("two processes writing the same logs at once answer every request (no deadlock between the one-statement and the locked way)", async () => {
    const accounts = ["acct-race-1", "acct-race-2"];
    const posts = Array.from({ length: 80 }, (_, n) => async () => {
      const events = Array.from({ length: 5 }, (_, i) =>
        makeEvent({ account: accounts[(n + i) % 2]! }),
      );
      const res = await fetch(`${(n % 2 === 0 ? a : b).url}/regions/us-south/logs/ingest`, {
        method: "POST",
        headers: { "content-type": "application/json", ...auth("key-us") },
        body: JSON.stringify({ lines: events.map(lineOf) }),
      });
      return `${res.status} ${res.status === 200 ? "" : await res.text()}`.trim();
    });
    const statuses: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        while (next < posts.length) statuses.push(await posts[next++]!());
      }),
    );
    expect(statuses.filter((s) => s !== "200")).toEqual([]);
    for (const account of accounts) {
      const rows = await t.sql<{ log_index: number }[]>`
        select log_index::int from tracker.events where account_id = ${account} order by log_index`;
      expect(rows.map((r) => r.log_index)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    }
  });

  it("a one-statement write takes its logs' locks before it inserts: a process holding a log's lock and writing at its next index does not deadlock with it", async () => {
    const account = "acct-lock-first";
    const batch = () => Array.from({ length: 5 }, () => makeEvent({ account }));
    await ingest(a, batch());
    await ingest(a, batch());
    const before = { remembered: await metric(a, REMEMBERED), refused: await metric(a, REFUSED) };
    // The test plays another tracker process: it holds the log's lock, and while a's write
    // waits for it, inserts an event at the log's next index, then rolls back.
    let write: Promise<void> | undefined;
    const held = t.sql
      .begin(async (tx) => {
        await tx`select 1 from tracker.logs where account_id = ${account} for update`;
        write = ingest(a, batch());
        for (let i = 0; i < 200; i++) {
          const [w] = await tx<{ n: number }[]>`
            select count(*)::int as n from pg_stat_activity
             where application_name = 'berth-tracker' and wait_event_type = 'Lock'`;
          if (w!.n > 0) break;
          await new Promise((r) => setTimeout(r, 25));
        }
        await tx`
          insert into tracker.events (id, account_id, region, event_time, action, outcome, severity,
                                      initiator_id, initiator_name, target_id, target_name,
                                      message, payload, log_index)
          values (gen_random_uuid(), ${account}, 'us-south', now(), 'x', 'success', 'normal',
                  'i', 'i', 't', 't', 'm', '{}', 10)`;
        throw new Error("rolled back on purpose");
      })
      .catch((error: Error) => error.message);
    expect(await held, "the other writer's insert at the next index").toBe(
      "rolled back on purpose",
    );
    await write;
    expect(await metric(a, REFUSED), "a's write was refused (deadlock victim)").toBe(
      before.refused,
    );
    expect(await metric(a, REMEMBERED)).toBe(before.remembered + 1);
    const rows = await t.sql<{ log_index: number }[]>`
      select log_index::int from tracker.events where account_id = ${account} order by log_index`;
    expect(rows.map((r) => r.log_index)).toEqual(Array.from({ length: 15 }, (_, i) => i));
  });

  it("a signed checkpoint covers the log within a second, and export lines carry their index", async () => {
    const cp = await latest("acct-log");
    expect(cp.size).toBe(300);
    const res = await fetch(`${a.url}/regions/us-south/v2/export?account=acct-log&size=5`, {
      headers: auth(QUERY),
    });
    const body = (await res.json()) as { lines: { _logIndex: number; event: unknown }[] };
    expect(body.lines.every((l) => Number.isInteger(l._logIndex))).toBe(true);
    expect(await verifyAll("acct-log", cp)).toEqual([]);
  });

  it("an inclusion proof (C2SP tlog-proof) by id verifies against the signed checkpoint", async () => {
    const cp = await latest("acct-log");
    const [row] = await t.sql<{ id: string; payload: unknown }[]>`
      select id, payload from tracker.events where account_id = 'acct-log' and log_index = 137`;
    const text = await get<string>(
      `proof/inclusion?account=acct-log&id=${row?.id}&size=${cp.size}`,
    );
    const proof = parseTlogProof(text);
    expect(proof?.index).toBe(137);
    const opened = openCheckpoint(proof?.checkpoint ?? "", key());
    expect(opened.ok).toBe(true);
    expect(
      verifyInclusion(137, cp.size, eventLeafHash(row?.payload), proof?.proof ?? [], cp.root),
    ).toBe(true);
  });

  it("a consistency proof links an older checkpoint to a newer one", async () => {
    const old = await latest("acct-log");
    await ingest(
      a,
      Array.from({ length: 7 }, () => makeEvent({ account: "acct-log" })),
    );
    const now = await latest("acct-log");
    expect(now.size).toBe(old.size + 7);
    const { checkpoint } = await get<{ checkpoint: string }>(`checkpoint?account=acct-log`);
    const { proof } = await get<{ proof: string[] }>(
      `proof/consistency?account=acct-log&from=${old.size}&to=${now.size}`,
    );
    const checked = checkAgainstPrevious(
      checkpoint,
      key(),
      "berth.tracker/us-south/acct-log",
      old,
      proof.map((p) => Buffer.from(p, "base64")),
    );
    expect(checked.problems).toEqual([]);
  });

  describe("tampering with the tracker's tables is named", () => {
    const account = "acct-tamper";
    let cp: Checkpoint;
    beforeAll(async () => {
      await ingest(
        a,
        Array.from({ length: 40 }, () => makeEvent({ account })),
      );
      cp = await latest(account);
    });
    const idAt = async (i: number) =>
      (
        await t.sql<
          { id: string }[]
        >`select id from tracker.events where account_id = ${account} and log_index = ${i}`
      )[0]?.id;

    it("one field of one event changed", async () => {
      const id = await idAt(5);
      await t.sql`update tracker.events set payload = jsonb_set(payload, '{outcome}', '"failure"') where id = ${id as string}`;
      expect(await verifyAll(account, cp)).toEqual([`event ${id} at index 5 was changed`]);
      await t.sql`update tracker.events set payload = jsonb_set(payload, '{outcome}', '"success"') where id = ${id as string}`;
      expect(await verifyAll(account, cp)).toEqual([]);
    });

    it("one event deleted, one forged, two swapped", async () => {
      await t.sql`create table tracker.kept as select * from tracker.events where account_id = ${account} and log_index = 9`;
      await t.sql`delete from tracker.events where account_id = ${account} and log_index = 9`;
      expect(await verifyAll(account, cp)).toEqual(["the event at index 9 is missing"]);
      await t.sql`insert into tracker.events overriding system value select * from tracker.kept`;
      await t.sql`drop table tracker.kept`;
      const forged = makeEvent({ account });
      await t.sql`insert into tracker.events (id, account_id, region, event_time, action, outcome, severity, initiator_id,
                    initiator_name, target_id, target_name, message, payload, log_index)
                  values (${forged.id}, ${account}, 'us-south', now(), 'x', 'success', 'normal', 'i', 'i', 't', 't', 'm',
                          ${JSON.stringify(forged)}::jsonb, null)`;
      // Placed at an index, it collides with the real one; the unique index is part of what an
      // operator can drop, so the forged row is put beside it.
      await t.sql`drop index tracker.events_log_index_idx`;
      await t.sql`update tracker.events set log_index = 12 where id = ${forged.id}`;
      const problems = await verifyAll(account, cp);
      expect(problems).toContain(`event ${forged.id} at index 12 was inserted (not in the log)`);
      await t.sql`delete from tracker.events where id = ${forged.id}`;
      const [x, y] = [await idAt(20), await idAt(21)];
      await t.sql`update tracker.events set log_index = case log_index when 20 then 21 else 20 end
                   where account_id = ${account} and log_index in (20, 21)`;
      expect(await verifyAll(account, cp)).toEqual([
        `event ${y} at index 20 is out of order: the log holds it at index 21`,
        `event ${x} at index 21 is out of order: the log holds it at index 20`,
      ]);
      await t.sql`update tracker.events set log_index = case log_index when 20 then 21 else 20 end
                   where account_id = ${account} and log_index in (20, 21)`;
      await t.sql`create unique index events_log_index_idx on tracker.events (account_id, region, log_index)`;
      expect(await verifyAll(account, cp)).toEqual([]);
    });

    it("a log rolled back and regrown differently is inconsistent with the checkpoint seen before", async () => {
      const before = cp;
      await t.sql`delete from tracker.events where account_id = ${account} and log_index >= 30`;
      await t.sql`delete from tracker.log_tiles where account_id = ${account}`;
      await t.sql`delete from tracker.checkpoints where account_id = ${account}`;
      // Rebuild the log from the first 30 events, as an operator rewriting history would.
      const kept = await t.sql<{ payload: ReturnType<typeof makeEvent> }[]>`
        select payload from tracker.events where account_id = ${account} order by log_index`;
      await t.sql`delete from tracker.events where account_id = ${account}`;
      await t.sql`delete from tracker.logs where account_id = ${account}`;
      await ingest(a, [
        ...kept.map((r) => r.payload),
        ...Array.from({ length: 15 }, () => makeEvent({ account })),
      ]);
      const regrown = await latest(account);
      expect(regrown.size).toBe(45);
      const { checkpoint } = await get<{ checkpoint: string }>(`checkpoint?account=${account}`);
      const { proof } = await get<{ proof: string[] }>(
        `proof/consistency?account=${account}&from=${before.size}&to=${regrown.size}`,
      );
      const checked = checkAgainstPrevious(
        checkpoint,
        key(),
        `berth.tracker/us-south/${account}`,
        before,
        proof.map((p) => Buffer.from(p, "base64") as Hash),
      );
      expect(checked.problems.map(describeProblem)).toEqual([
        "checkpoints of size 40 and 45 are inconsistent: the consistency proof does not verify (history rewritten or forked)",
      ]);
    });
  });
});
