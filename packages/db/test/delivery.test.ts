import { eq } from "drizzle-orm";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import {
  claimForDelivery,
  cursorAfter,
  enqueueEvents,
  listDead,
  outboxStats,
  settleDeliveries,
} from "../src/outbox/index";
import { outbox } from "../src/schema/outbox";
import { outboxDatabase, outboxRow } from "./fixture";

const t = await outboxDatabase();

const ev = (region = "us-south") =>
  outboxRow(
    {
      action: "container-registry.namespace.create",
      message: 'Container Registry: create namespace "q"',
      severity: "normal",
      eventTime: "2019-06-01T12:34:56.78+0000",
    },
    "acct1",
    region,
  );

describe("claimForDelivery", () => {
  it("leases due events in order with the payload as JSON text", async () => {
    const events = [ev("us-south"), ev("ap-north"), ev("global")];
    await enqueueEvents(t.db, events);
    const got = await claimForDelivery(t.sql, { limit: 10, leaseMs: 60_000, workerId: "w" });
    expect(got.map((g) => [g.id, g.region, g.attempts])).toEqual(
      events.map((e) => [e.event.id, e.region, 1]),
    );
    expect(JSON.parse(got[0]!.payload)).toEqual(events[0]!.event);
    expect(got[0]).toMatchObject({
      message: 'Container Registry: create namespace "q"',
      severity: "normal",
      eventTime: "2019-06-01T12:34:56.78+0000",
    });
    expect(await claimForDelivery(t.sql, { limit: 10, leaseMs: 60_000, workerId: "w2" })).toEqual(
      [],
    );
  });
});

describe("claimForDelivery with the statistics of an empty outbox", () => {
  it("leases at most `limit` rows, in one pass", async () => {
    // The planner's view at a steady low rate: the outbox analysed empty, the worker's first
    // claims finding nothing (the plan cache then keeps a generic plan), its connections never
    // planning a sequential scan. The picking sub-select as the inner side of a nested loop was
    // run again for every outbox row, each run skipping what the statement had just leased:
    // asked for 10, the claim leased all 60.
    await t.sql`vacuum analyze outbox`;
    const worker = postgres(t.url, { max: 1, connection: { enable_seqscan: "off" } });
    try {
      for (let i = 0; i < 6; i++) {
        expect(
          await claimForDelivery(worker, { limit: 10, leaseMs: 60_000, workerId: "w" }),
        ).toEqual([]);
      }
      await enqueueEvents(
        t.db,
        Array.from({ length: 60 }, () => ev()),
      );
      for (let i = 0; i < 6; i++) {
        const got = await claimForDelivery(worker, { limit: 10, leaseMs: 60_000, workerId: "w" });
        expect(got).toHaveLength(10);
      }
      const [left] = await t.sql<{ n: number }[]>`
        select count(*)::int as n from outbox where leased_until is null`;
      expect(left!.n).toBe(0);
    } finally {
      await worker.end();
    }
  });
});

describe("claim cursor", () => {
  it("starts a claim after the cursor, and one from the head finds what lies before it", async () => {
    const events = [ev(), ev(), ev(), ev()];
    await enqueueEvents(t.db, events);
    const first = await claimForDelivery(t.sql, { limit: 2, leaseMs: 60_000, workerId: "w" });
    expect(first.map((r) => r.id)).toEqual(events.slice(0, 2).map((e) => e.event.id));
    // The first batch's leases lapse (a late commit or a crashed worker looks the same): a
    // claim from the cursor passes over them, the next one from the head takes them.
    await t.sql`update outbox set leased_until = null`;
    const after = cursorAfter(first);
    expect(after).toEqual({ availableUs: first[1]!.availableUs, seq: first[1]!.seq });
    const next = await claimForDelivery(t.sql, {
      limit: 10,
      leaseMs: 60_000,
      workerId: "w",
      after,
    });
    expect(next.map((r) => r.id)).toEqual(events.slice(2).map((e) => e.event.id));
    const head = await claimForDelivery(t.sql, { limit: 10, leaseMs: 60_000, workerId: "w" });
    expect(head.map((r) => r.id)).toEqual(events.slice(0, 2).map((e) => e.event.id));
  });
});

describe("settleDeliveries", () => {
  it("deletes, retries, parks and releases in one statement", async () => {
    const [a, b, c, d] = [ev(), ev(), ev(), ev()];
    await enqueueEvents(t.db, [a!, b!, c!, d!]);
    await claimForDelivery(t.sql, { limit: 10, leaseMs: 60_000, workerId: "w" });
    await settleDeliveries(t.sql, {
      delivered: [a!.event.id],
      retries: [{ id: b!.event.id, delayMs: 3_600_000, error: "503" }],
      dead: [{ id: c!.event.id, reason: "400: bad" }],
      released: [d!.event.id],
    });
    expect(await t.db.select().from(outbox).where(eq(outbox.id, a!.event.id))).toHaveLength(0);
    const [rb] = await t.db.select().from(outbox).where(eq(outbox.id, b!.event.id));
    expect(rb).toMatchObject({ status: "pending", lastError: "503", leasedBy: null, attempts: 1 });
    expect(rb!.availableAt.getTime()).toBeGreaterThan(Date.now() + 3_000_000);
    expect((await listDead(t.db)).map((x) => [x.id, x.lastError])).toEqual([
      [c!.event.id, "400: bad"],
    ]);
    const again = await claimForDelivery(t.sql, { limit: 10, leaseMs: 60_000, workerId: "w" });
    expect(again.map((x) => [x.id, x.attempts])).toEqual([[d!.event.id, 1]]);
    expect(await outboxStats(t.db)).toMatchObject({ pending: 2, dead: 1 });
  });

  it("accepts empty settlements", async () => {
    await settleDeliveries(t.sql, {});
    await settleDeliveries(t.sql, { delivered: [] });
  });
});
