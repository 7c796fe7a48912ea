import { beforeAll, describe, expect, it } from "vitest";
import { errorInfo, forFile, on, rejects, rid } from "./helpers";
import { startTrackerBed } from "./tracker-bed";

// log.* against a real tracker process: the caller's own log only. The attacks: bob naming
// alice's account, alice's event ids or alice's indexes gets nothing of alice's.

const { tracker, alice, bob, client, deliver, checkpointOf } = await forFile(startTrackerBed());
const aliceIds: string[] = [];

beforeAll(async () => {
  for (const name of ["alice-a", "alice-b", "alice-c"]) {
    const r = rid(name);
    await client(alice).namespace.create.mutate({ name }, on(r));
    aliceIds.push(...(await deliver(r)));
  }
  const r = rid("bob");
  await client(bob).namespace.create.mutate({ name: "bob-a" }, on(r));
  await deliver(r);
}, 120_000);

describe("log.*: the caller's own log", () => {
  it("gives the checkpoint, entries and proofs of the caller's log (the CLI test verifies them)", async () => {
    const { key } = await client(alice).log.key.query();
    expect(key).toMatch(/^berth\.tracker\+[0-9a-f]{8}\+/);
    const cp = await checkpointOf(alice, aliceIds.length);
    expect(cp.checkpoint.split("\n")[0]).toBe(`berth.tracker/us-south/${alice.account.id}`);
    const { entries } = await client(alice).log.entries.query({ start: 0, end: cp.size });
    expect(entries.map((e) => e.id)).toEqual(aliceIds);
    for (const e of entries) expect(e.leaf).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    const range = await client(alice).log.range.query({ start: 0, end: cp.size, size: cp.size });
    expect(range).toMatchObject({ start: 0, end: cp.size, size: cp.size, proof: [] });
    const incl = await client(alice).log.inclusion.query({ id: aliceIds[1]! });
    expect(incl.proof).toMatch(/^c2sp\.org\/tlog-proof@v1\nindex 1\n/);
    const cons = await client(alice).log.consistency.query({ from: 1, to: cp.size });
    expect(cons.proof.length).toBeGreaterThan(0);
  });

  it("never gives bob anything of alice's, whatever he names", async () => {
    await checkpointOf(alice, aliceIds.length);
    const bobCp = await checkpointOf(bob, 1);
    expect(bobCp.checkpoint).toContain(`berth.tracker/us-south/${bob.account.id}`);
    expect(bobCp.checkpoint).not.toContain(alice.account.id);
    // Naming alice's account: the input has no such field, and is refused as a whole.
    const named = await rejects(
      client(bob).log.entries.query({ start: 0, end: 3, account: alice.account.id } as never),
    );
    expect(errorInfo(named).code).toBe("BAD_REQUEST");
    // Alice's event ids are "not found" in bob's log.
    for (const id of aliceIds) {
      const e = await rejects(client(bob).log.inclusion.query({ id }));
      expect(errorInfo(e).code).toBe("NOT_FOUND");
      expect(e.message).not.toContain(tracker.url);
    }
    // Indexes are bob's: index 0 is bob's only entry; 1 and 2 are not there.
    const { entries } = await client(bob).log.entries.query({ start: 0, end: 3 });
    expect(entries.map((e) => e.id)).not.toContain(aliceIds[0]);
    expect(entries).toHaveLength(1);
    const e = await rejects(client(bob).log.inclusion.query({ index: 2 }));
    expect(errorInfo(e).code).toBe("NOT_FOUND");
    const c = await rejects(client(bob).log.consistency.query({ from: 1, to: 3 }));
    expect(errorInfo(c).code).toBe("NOT_FOUND");
  });

  it("refuses bad input with a clear error", async () => {
    const both = await rejects(client(alice).log.inclusion.query({ index: 0, id: aliceIds[0]! }));
    expect(errorInfo(both).code).toBe("BAD_REQUEST");
    const big = await rejects(client(alice).log.entries.query({ start: 0, end: 5001 }));
    expect(big.message).toContain("at most 5000");
  });
});
