import { deadLetter, outbox, outboxStats } from "@berth/db";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { errorInfo, forFile, rejects, rid, startTestServer } from "./helpers";

// delivery.status / delivery.dead / delivery.redrive: the caller's account only, unaudited.

const env = await forFile(startTestServer());
const A = () => env.client(env.alice);
const B = () => env.client(env.bob);

async function idsOf(accountId: string): Promise<string[]> {
  const rows = await env.t.db
    .select({ id: outbox.id })
    .from(outbox)
    .where(eq(outbox.accountId, accountId))
    .orderBy(outbox.seq);
  return rows.map((r) => r.id);
}

beforeAll(async () => {
  await A().namespace.create.mutate({ name: "alice-ns" });
  await A().namespace.create.mutate({ name: "alice-two" });
  await B().namespace.create.mutate({ name: "bob-ns" });
});

describe("delivery", () => {
  it("reports the caller's backlog and its lag", async () => {
    const status = await A().delivery.status.query();
    expect(status.pending).toBe(2);
    expect(status.dead).toBe(0);
    expect(status.lagMs).toBeGreaterThanOrEqual(0);
    expect((await B().delivery.status.query()).pending).toBe(1);
  });

  it("lists dead letters with their reasons, and redrives only the caller's", async () => {
    const [first, second] = await idsOf(env.alice.account.id);
    const [bobs] = await idsOf(env.bob.account.id);
    await deadLetter(env.t.db, [
      { id: first!, reason: "tracker answered 400: bad event" },
      { id: second!, reason: "tracker answered 413" },
      { id: bobs!, reason: "bob's reason" },
    ]);
    const dead = await A().delivery.dead.query();
    expect(dead.map((d) => d.id).sort()).toEqual([first, second].sort());
    const d = dead.find((x) => x.id === first)!;
    expect(d.reason).toBe("tracker answered 400: bad event");
    expect(d.action).toBe("container-registry.namespace.create");
    expect(d.region).toBe("us-south");
    expect(d.deadAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect((d.event as { id: string }).id).toBe(first);
    expect(await A().delivery.status.query()).toMatchObject({ pending: 0, dead: 2 });
    expect((await A().delivery.dead.query({ limit: 1 })).length).toBe(1);

    // Bob cannot redrive (or see) alice's events.
    expect(await B().delivery.redrive.mutate({ ids: [first!] })).toEqual({ redriven: 0 });
    expect((await B().delivery.dead.query()).map((x) => x.id)).toEqual([bobs]);

    expect(await A().delivery.redrive.mutate({ ids: [first!] })).toEqual({ redriven: 1 });
    expect(await A().delivery.status.query()).toMatchObject({ pending: 1, dead: 1 });
    // Without ids: every dead event of the caller, and only theirs.
    expect(await A().delivery.redrive.mutate()).toEqual({ redriven: 1 });
    expect(await outboxStats(env.t.db, { accountId: env.bob.account.id })).toMatchObject({
      dead: 1,
    });
  });

  it("refuses bad ids and unknown callers, and writes no events", async () => {
    const bad = await rejects(A().delivery.redrive.mutate({ ids: ["not-a-uuid"] }));
    expect(errorInfo(bad).code).toBe("BAD_REQUEST");
    expect(bad.message).toMatch(/UUID/);
    expect(errorInfo(await rejects(A().delivery.redrive.mutate({ ids: [] }))).code).toBe(
      "BAD_REQUEST",
    );
    const anonymous = env.client({});
    expect(errorInfo(await rejects(anonymous.delivery.status.query())).code).toBe("UNAUTHORIZED");
    const r = rid("delivery");
    await A().delivery.dead.query(undefined, { context: { requestId: r } });
    await A().delivery.redrive.mutate(undefined, { context: { requestId: r } });
    expect(await env.events(r)).toEqual([]);
  });
});
