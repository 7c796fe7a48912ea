import { describe, expect, it } from "vitest";
import { GroupCommit } from "../src/group-commit";

/** A writer whose batches are held until released, recording each batch it was given. */
function heldWriter() {
  const batches: number[][] = [];
  const releases: ((error?: unknown) => void)[] = [];
  const write = (items: number[]) => {
    batches.push(items);
    return new Promise<void>((resolve, reject) => {
      releases.push((error) => (error ? reject(error) : resolve()));
    });
  };
  const next = async () => {
    for (let i = 0; i < 200 && releases.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 5));
    }
    const release = releases.shift();
    if (!release) throw new Error("no batch was written");
    return release;
  };
  return { batches, write, next };
}

describe("GroupCommit", () => {
  it("sends the items of one turn as one batch, and those added meanwhile as the next", async () => {
    const w = heldWriter();
    const group = new GroupCommit<number>(w.write);
    const first = [1, 2, 3].map((n) => group.add(n));
    const releaseFirst = await w.next();
    const second = [4, 5].map((n) => group.add(n));
    // Nothing more is written while a batch is in flight.
    await new Promise((r) => setTimeout(r, 20));
    expect(w.batches).toEqual([[1, 2, 3]]);
    releaseFirst();
    await Promise.all(first);
    (await w.next())();
    await Promise.all(second);
    expect(w.batches).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
  });

  it("keeps a batch to maxSize, never splitting an item", async () => {
    const w = heldWriter();
    const group = new GroupCommit<number>(w.write, { maxSize: 5, sizeOf: (n) => n });
    const all = [2, 3, 1, 9, 4].map((n) => group.add(n));
    for (let i = 0; i < 4; i++) (await w.next())();
    await Promise.all(all);
    // 1 + 9 would pass 5: 1 goes alone; 9 is over 5 by itself and still goes, alone.
    expect(w.batches).toEqual([[2, 3], [1], [9], [4]]);
  });

  it("rejects every caller of a failed batch, each with its own error, and goes on", async () => {
    const w = heldWriter();
    const group = new GroupCommit<number>(w.write, {
      errorFor: (e) => new Error(`caller: ${(e as Error).message}`),
    });
    const failing = [1, 2].map((n) => group.add(n));
    const settled = Promise.allSettled(failing);
    (await w.next())(new Error("batch failed"));
    const outcomes = await settled;
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
    const [a, b] = outcomes.map((o) => (o as PromiseRejectedResult).reason as Error);
    expect(a!.message).toBe("caller: batch failed");
    expect(a).not.toBe(b);
    const later = group.add(3);
    (await w.next())();
    await later;
    expect(w.batches).toEqual([[1, 2], [3]]);
  });
});
