import { randomUUID } from "node:crypto";
import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import {
  claimForDelivery,
  enqueueEvent,
  enqueueEvents,
  listDead,
  outboxStats,
  redrive,
  settleDeliveries,
  wakeWorkers,
} from "../src/outbox/index";
import { accounts, namespaces } from "../src/schema/index";
import { outbox } from "../src/schema/outbox";
import { outboxDatabase, outboxRow } from "./fixture";

const t = await outboxDatabase();
beforeAll(async () => {
  await t.db.insert(accounts).values({ id: "acct1", name: "one" });
});

// Every claim and settlement goes through the worker's own path (claimForDelivery,
// settleDeliveries), so these tests hold the code that runs in production to its promises.
const claim = (opts: { limit: number; leaseMs: number; workerId: string }) =>
  claimForDelivery(t.sql, opts);
/** Enqueue `events` and lease them all to worker "w". */
const enqueuedAndClaimed = async (...events: ReturnType<typeof ev>[]) => {
  await enqueueEvents(t.db, events);
  await claim({ limit: 10, leaseMs: 60_000, workerId: "w" });
};

const ev = (action = "container-registry.namespace.create") =>
  outboxRow({ action, message: "Container Registry: x" });

describe("transactional enqueue", () => {
  it("commits the state change and its event together", async () => {
    const e = ev();
    await t.db.transaction(async (tx) => {
      await tx
        .insert(namespaces)
        .values({ id: randomUUID(), accountId: "acct1", region: "us-south", name: "birds" });
      await enqueueEvent(tx, e);
    });
    const ns = await t.db.select().from(namespaces).where(eq(namespaces.name, "birds"));
    const rows = await t.db.select().from(outbox).where(eq(outbox.id, e.event.id));
    expect(ns).toHaveLength(1);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.payload).toEqual(e.event);
    expect(rows[0]?.status).toBe("pending");
  });

  it("rolls back the state change and its event together", async () => {
    const e = ev();
    await expect(
      t.db.transaction(async (tx) => {
        await tx
          .insert(namespaces)
          .values({ id: randomUUID(), accountId: "acct1", region: "us-south", name: "fish" });
        await enqueueEvent(tx, e);
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(await t.db.select().from(namespaces).where(eq(namespaces.name, "fish"))).toHaveLength(0);
    expect(await t.db.select().from(outbox).where(eq(outbox.id, e.event.id))).toHaveLength(0);
  });

  it("wakes the workers after commits, one wake-up in flight at a time", async () => {
    const seen: string[] = [];
    const listener = await t.sql.listen("berth_outbox", (p) => seen.push(p));
    await enqueueEvents(t.db, [ev(), ev()]);
    // Fifty commits of one turn ask: one wake-up. Sent at the end of the turn, it is in
    // flight when fifty more ask: they become one after it.
    for (let i = 0; i < 50; i++) wakeWorkers(t.db);
    await new Promise((r) => setImmediate(r));
    for (let i = 0; i < 50; i++) wakeWorkers(t.db);
    const deadline = Date.now() + 10_000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 300));
    await listener.unlisten();
    expect(seen, "wake-ups received for 100 asked (the enqueue sends none)").toHaveLength(2);
  });
});

describe("claiming", () => {
  it("never gives the same row to two concurrent claimers", async () => {
    const total = 3000;
    for (let i = 0; i < total; i += 500) {
      await enqueueEvents(
        t.db,
        Array.from({ length: Math.min(500, total - i) }, () => ev()),
      );
    }
    const claimer = async (workerId: string) => {
      const got: string[] = [];
      for (let round = 0; round < 1000; round++) {
        const batch = await claim({ limit: 50, leaseMs: 60_000, workerId });
        if (batch.length === 0) break;
        got.push(...batch.map((b) => b.id));
      }
      return got;
    };
    const results = await Promise.all(["w1", "w2", "w3", "w4"].map(claimer));
    const all = results.flat();
    expect(all).toHaveLength(total);
    expect(new Set(all).size).toBe(total);
    expect(results.filter((r) => r.length > 0).length).toBeGreaterThan(1);
  });

  it("claims in commit order and counts attempts", async () => {
    const events = [ev(), ev(), ev()];
    for (const e of events) await enqueueEvent(t.db, e);
    const batch = await claim({ limit: 10, leaseMs: 60_000, workerId: "w" });
    expect(batch.map((b) => b.id)).toEqual(events.map((e) => e.event.id));
    const owners = await t.db.select({ accountId: outbox.accountId }).from(outbox);
    expect(batch.every((b) => b.attempts === 1)).toBe(true);
    expect(owners.every((o) => o.accountId === "acct1")).toBe(true);
  });

  it("makes a row claimable again when its lease expires (crashed worker)", async () => {
    const e = ev();
    await enqueueEvent(t.db, e);
    const first = await claim({ limit: 10, leaseMs: 200, workerId: "dead" });
    expect(first.map((b) => b.id)).toEqual([e.event.id]);
    expect(await claim({ limit: 10, leaseMs: 200, workerId: "w" })).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 400));
    const again = await claim({ limit: 10, leaseMs: 60_000, workerId: "w" });
    expect(again.map((b) => b.id)).toEqual([e.event.id]);
    expect(again[0]?.attempts).toBe(2);
  });

  it("releases leases on shutdown without counting the attempt", async () => {
    const e = ev();
    await enqueueEvent(t.db, e);
    const b = await claim({ limit: 10, leaseMs: 60_000, workerId: "w" });
    await settleDeliveries(t.sql, { released: b.map((x) => x.id) });
    const again = await claim({ limit: 10, leaseMs: 60_000, workerId: "w2" });
    expect(again.map((x) => x.attempts)).toEqual([1]);
  });

  it("deletes delivered rows so the table holds only the backlog", async () => {
    await enqueueEvents(t.db, [ev(), ev(), ev()]);
    const b = await claim({ limit: 2, leaseMs: 60_000, workerId: "w" });
    await settleDeliveries(t.sql, { delivered: b.map((x) => x.id) });
    const left = await t.db.select({ id: outbox.id }).from(outbox);
    expect(left.filter((r) => b.some((x) => x.id === r.id))).toHaveLength(0);
    const [{ n }] = (await t.db.execute<{ n: string }>(
      sql`select count(*) as n from outbox`,
    )) as unknown as [{ n: string }];
    expect(Number(n)).toBe(1);
  });
});

describe("retries and dead letters", () => {
  it("hides a retried event until its time comes", async () => {
    const later = ev();
    const now = ev();
    await enqueuedAndClaimed(later, now);
    await settleDeliveries(t.sql, {
      retries: [
        { id: later.event.id, delayMs: 3_600_000, error: "503 from tracker" },
        { id: now.event.id, delayMs: 0, error: "timeout" },
      ],
    });
    const b = await claim({ limit: 10, leaseMs: 60_000, workerId: "w" });
    expect(b.map((x) => x.id)).toEqual([now.event.id]);
    const [row] = await t.db.select().from(outbox).where(eq(outbox.id, later.event.id));
    expect(row?.lastError).toBe("503 from tracker");
    expect(row!.availableAt.getTime()).toBeGreaterThan(Date.now() + 3_500_000);
    const stats = await outboxStats(t.db);
    expect(stats.pending).toBe(2);
    expect(stats.oldestPendingAgeMs).toBeGreaterThanOrEqual(0);
  });

  it("parks poison events and redrives them", async () => {
    const poison = ev();
    const fine = ev();
    await enqueuedAndClaimed(poison, fine);
    await settleDeliveries(t.sql, {
      dead: [{ id: poison.event.id, reason: "400: invalid event" }],
      released: [fine.event.id],
    });
    expect(await outboxStats(t.db)).toMatchObject({ pending: 1, dead: 1 });
    const dead = await listDead(t.db, { accountId: "acct1" });
    expect(dead.map((d) => [d.id, d.lastError])).toEqual([[poison.event.id, "400: invalid event"]]);
    const claimed = await claim({ limit: 10, leaseMs: 60_000, workerId: "w" });
    expect(claimed.map((c) => c.id)).toEqual([fine.event.id]);
    expect(await redrive(t.db, { accountId: "someone-else" })).toBe(0);
    expect(await redrive(t.db, { ids: [poison.event.id] })).toBe(1);
    const again = await claim({ limit: 10, leaseMs: 60_000, workerId: "w" });
    expect(again.map((c) => [c.id, c.attempts])).toEqual([[poison.event.id, 1]]);
  });
});
