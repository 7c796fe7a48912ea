import { describe, expect, it } from "vitest";
import {
  claimDestination,
  destinationStats,
  enqueueEvents,
  listDeadDeliveries,
  redriveDestination,
  registerDestinations,
  settleDestination,
} from "../src/outbox/index";
import { outboxDatabase, outboxRow } from "./fixture";

const t = await outboxDatabase();

const ev = (o: { action?: string; outcome?: string; account?: string; region?: string } = {}) =>
  outboxRow(
    {
      action: o.action ?? "container-registry.image.push",
      outcome: o.outcome ?? "success",
      severity: o.outcome === "failure" ? "warning" : "normal",
    },
    o.account,
    o.region,
  );

const ledger = async (destination: string) =>
  (
    await t.sql<{ event_id: string }[]>`
      select event_id from deliveries where destination = ${destination} order by seq`
  ).map((r) => r.event_id);

describe("fan-out at enqueue", () => {
  it("writes one row per matching destination in the enqueue statement, and none for the others", async () => {
    await registerDestinations(t.db, [
      { name: "all", filter: {}, ordered: false },
      { name: "failures", filter: { outcomes: ["failure"] }, ordered: true },
      { name: "acct2-eu", filter: { accounts: ["acct2"], regions: ["eu-de"] }, ordered: false },
      { name: "pulls", filter: { actions: ["container-registry.image.pull"] }, ordered: false },
    ]);
    const a = ev();
    const b = ev({ outcome: "failure" });
    const c = ev({ account: "acct2", region: "eu-de" });
    const d = ev({ account: "acct2", region: "us-south" });
    await enqueueEvents(t.db, [a, b, c, d]);
    expect(await ledger("all")).toEqual([a, b, c, d].map((e) => e.event.id));
    expect(await ledger("failures")).toEqual([b.event.id]);
    expect(await ledger("acct2-eu")).toEqual([c.event.id]);
    expect(await ledger("pulls")).toEqual([]);
    const [row] = await t.sql<{ n: number }[]>`select count(*)::int as n from outbox`;
    expect(row?.n).toBe(4);
  });

  it("writes nothing anywhere when the transaction rolls back", async () => {
    await registerDestinations(t.db, [{ name: "all", filter: {}, ordered: false }]);
    await expect(
      t.db.transaction(async (tx) => {
        await enqueueEvents(tx, [ev()]);
        throw new Error("use case failed");
      }),
    ).rejects.toThrow("use case failed");
    expect(await ledger("all")).toEqual([]);
  });

  it("stops fanning out to a destination once it is no longer registered", async () => {
    await registerDestinations(t.db, [
      { name: "a", filter: {}, ordered: false },
      { name: "b", filter: {}, ordered: false },
    ]);
    await registerDestinations(t.db, [{ name: "a", filter: {}, ordered: false }]);
    await enqueueEvents(t.db, [ev()]);
    expect(await ledger("a")).toHaveLength(1);
    expect(await ledger("b")).toHaveLength(0);
  });
});

describe("per-destination claims", () => {
  const claim = (destination: string, ordered: boolean, workerId = "w1", limit = 10) =>
    claimDestination(t.sql, { destination, ordered, limit, leaseMs: 30_000, workerId });

  it("an ordered destination claims nothing past a row waiting for a retry, or leased elsewhere", async () => {
    await registerDestinations(t.db, [{ name: "q", filter: {}, ordered: true }]);
    const events = Array.from({ length: 6 }, () => ev());
    await enqueueEvents(t.db, events);
    const first = await claim("q", true, "w1", 2);
    expect(first.map((r) => r.id)).toEqual(events.slice(0, 2).map((e) => e.event.id));
    // Leased by w1: a second worker must not overtake it.
    expect(await claim("q", true, "w2")).toEqual([]);
    await settleDestination(t.sql, "q", {
      delivered: [first[0]!.id],
      retries: [{ id: first[1]!.id, delayMs: 60_000, error: "down" }],
    });
    // The head waits for its retry: nothing behind it is sent first.
    expect(await claim("q", true, "w2")).toEqual([]);
    await t.sql`update deliveries set available_at = now() where destination = 'q'`;
    const next = await claim("q", true, "w2");
    expect(next.map((r) => r.id)).toEqual(events.slice(1).map((e) => e.event.id));
  });

  it("one destination's failures leave another's ledger untouched", async () => {
    await registerDestinations(t.db, [
      { name: "slow", filter: {}, ordered: false },
      { name: "fast", filter: {}, ordered: false },
    ]);
    const events = Array.from({ length: 3 }, () => ev());
    await enqueueEvents(t.db, events);
    const slow = await claim("slow", false);
    await settleDestination(t.sql, "slow", {
      dead: slow.map((r) => ({ id: r.id, reason: "refused" })),
    });
    const fast = await claim("fast", false);
    expect(fast).toHaveLength(3);
    await settleDestination(t.sql, "fast", { delivered: fast.map((r) => r.id) });
    const stats = await destinationStats(t.db);
    expect(stats).toEqual([
      { destination: "fast", pending: 0, dead: 0, oldestPendingAgeMs: 0 },
      { destination: "slow", pending: 0, dead: 3, oldestPendingAgeMs: 0 },
    ]);
    expect((await listDeadDeliveries(t.db, { destination: "slow" })).map((d) => d.id)).toEqual(
      events.map((e) => e.event.id),
    );
    // Redrive is per destination and per account.
    expect(await redriveDestination(t.db, { destination: "fast" })).toBe(0);
    expect(await redriveDestination(t.db, { destination: "slow", accountId: "other" })).toBe(0);
    expect(await redriveDestination(t.db, { destination: "slow", accountId: "acct1" })).toBe(3);
    expect((await destinationStats(t.db, { accountId: "acct1" }))[1]).toMatchObject({
      destination: "slow",
      pending: 3,
      dead: 0,
    });
  });
});
