import { claimDestination, registerDestinations, settleDestination } from "@berth/db";
import { beforeAll, describe, expect, it } from "vitest";
import { errorInfo, forFile, rejects, startTestServer } from "./helpers";

// delivery.status / dead / redrive per destination (issue 17): the caller's account only,
// one destination at a time.

const env = await forFile(startTestServer());
const A = () => env.client(env.alice);
const B = () => env.client(env.bob);

beforeAll(async () => {
  await registerDestinations(env.t.db, [
    { name: "siem", filter: {}, ordered: true },
    { name: "hooks", filter: { outcomes: ["failure"] }, ordered: false },
  ]);
  await A().namespace.create.mutate({ name: "alice-dest" });
  await B().namespace.create.mutate({ name: "bob-dest" });
});

describe("delivery per destination", () => {
  it("shows the caller's backlog per destination, the tracker first, and redrives one destination only", async () => {
    const status = await A().delivery.status.query();
    expect(status.destinations.map((d) => [d.destination, d.pending, d.dead])).toEqual([
      ["tracker", 1, 0],
      ["hooks", 0, 0],
      ["siem", 1, 0],
    ]);
    // siem gives up on both accounts' events.
    const rows = await claimDestination(env.t.sql, {
      destination: "siem",
      ordered: true,
      limit: 10,
      leaseMs: 30_000,
      workerId: "test",
    });
    expect(rows).toHaveLength(2);
    await settleDestination(env.t.sql, "siem", {
      dead: rows.map((r) => ({ id: r.id, reason: "siem refused" })),
    });
    const dead = await A().delivery.dead.query({ destination: "siem" });
    expect(dead).toHaveLength(1);
    expect(dead[0]).toMatchObject({ destination: "siem", reason: "siem refused" });
    // The tracker's dead letters are another list.
    expect(await A().delivery.dead.query()).toEqual([]);
    const [bobs] = await B().delivery.dead.query({ destination: "siem" });
    // Bob's event id redrives nothing for Alice; redriving the tracker's list leaves siem's.
    expect(await A().delivery.redrive.mutate({ ids: [bobs!.id], destination: "siem" })).toEqual({
      redriven: 0,
    });
    expect(await A().delivery.redrive.mutate({ ids: [dead[0]!.id] })).toEqual({ redriven: 0 });
    expect(await A().delivery.redrive.mutate({ destination: "siem" })).toEqual({ redriven: 1 });
    expect((await B().delivery.status.query()).destinations).toContainEqual({
      destination: "siem",
      pending: 0,
      dead: 1,
      lagMs: 0,
    });
  });

  it("refuses a malformed destination name with a clear message", async () => {
    const bad = await rejects(A().delivery.redrive.mutate({ destination: "Bad Name'" }));
    expect(errorInfo(bad).code).toBe("BAD_REQUEST");
    expect(bad.message).toMatch(/a destination is named in lowercase/);
  });
});
