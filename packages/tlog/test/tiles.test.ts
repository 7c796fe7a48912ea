import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  appendLeaves,
  type Frontier,
  type Hash,
  leafHash,
  nodeKey,
  nodesOfTiles,
  nodesToStore,
  TILE_WIDTH,
  tilesFor,
  tileWrites,
} from "../src/index";

/** Appends leaves in batches, keeping the stored nodes both as a map and as tiles written the way the tracker writes them. */
function appendInBatches(count: number, batches: number[]) {
  const expected = new Map<string, Hash>();
  const tiles = new Map<string, { level: number; tile: number; hashes: Buffer }>();
  let frontier: Frontier = [];
  let size = 0;
  let b = 0;
  while (size < count) {
    const n = Math.min(count - size, Math.max(1, batches[b++ % batches.length] ?? 1));
    const leaves = Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${size + i}`)));
    const r = appendLeaves(frontier, size, leaves);
    const stored = nodesToStore(r.created);
    for (const node of stored) expected.set(nodeKey(node), node.hash);
    for (const w of tileWrites(stored)) {
      const key = `${w.level}/${w.tile}`;
      const before = tiles.get(key)?.hashes ?? Buffer.alloc(0);
      // The tracker's check: a write lands exactly at the end of its tile.
      expect(before.length).toBe(w.offset * 32);
      tiles.set(key, { level: w.level, tile: w.tile, hashes: Buffer.concat([before, w.hashes]) });
    }
    frontier = r.frontier;
    size = r.size;
  }
  return { expected, tiles: [...tiles.values()] };
}

describe("tiles of stored nodes", () => {
  it("written batch by batch, hold exactly the stored nodes, each at its index", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 700 }),
        fc.array(fc.integer({ min: 1, max: 80 }), { minLength: 1, maxLength: 6 }),
        (count, batches) => {
          const { expected, tiles } = appendInBatches(count, batches);
          const got = nodesOfTiles(tiles);
          expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
          for (const [key, hash] of expected) expect(got.get(key)?.equals(hash), key).toBe(true);
          expect(tiles.every((t) => t.hashes.length <= TILE_WIDTH * 32)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("name the tile of each node once", () => {
    expect(
      tilesFor([
        { level: 0, index: 3 },
        { level: 0, index: 15 },
        { level: 0, index: 16 },
        { level: 4, index: 40 },
      ]),
    ).toEqual([
      { level: 0, tile: 0 },
      { level: 0, tile: 1 },
      { level: 4, tile: 2 },
    ]);
  });
});
