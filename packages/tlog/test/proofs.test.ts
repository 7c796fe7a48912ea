import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  appendLeaves,
  consistencyRanges,
  DEFAULT_STRIDE,
  foldRange,
  type Hash,
  inclusionRanges,
  leafHash,
  nodeKey,
  nodesToStore,
  rangeNodes,
  rangeProofRanges,
  resolveNode,
  rootFromRangeProof,
  rootOfFrontier,
  rootOfLeaves,
  storedNodesForAll,
  verifyConsistency,
  verifyInclusion,
} from "../src/index";

const leavesOf = (n: number): Hash[] =>
  Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));

/** A store built the way the tracker builds it: appended in batches, keeping only the stored levels. */
function buildStore(
  leaves: Hash[],
  batches: number[],
): { stored: Map<string, Hash>; roots: Hash[] } {
  const stored = new Map<string, Hash>();
  const roots: Hash[] = [rootOfFrontier([])];
  let frontier: ReturnType<typeof appendLeaves>["frontier"] = [];
  let size = 0;
  let at = 0;
  for (const b of [...batches, leaves.length]) {
    const chunk = leaves.slice(at, Math.min(leaves.length, at + Math.max(1, b)));
    if (chunk.length === 0) break;
    const r = appendLeaves(frontier, size, chunk);
    for (const n of nodesToStore(r.created)) stored.set(nodeKey(n), n.hash);
    let f = frontier;
    for (let i = 0; i < chunk.length; i++) {
      f = appendLeaves(f, size + i, [chunk[i] as Hash]).frontier;
      roots[size + i + 1] = rootOfFrontier(f);
    }
    frontier = r.frontier;
    size = r.size;
    at += chunk.length;
  }
  return { stored, roots };
}

const hashOfRange = (start: number, end: number, stored: Map<string, Hash>): Hash =>
  foldRange(rangeNodes(start, end).map((n) => resolveNode(n, stored)));

const flipBit = (h: Hash, bit: number): Hash => {
  const c = Buffer.from(h);
  const at = Math.floor(bit / 8) % c.length;
  c[at] = (c[at] as number) ^ (1 << (bit % 8));
  return c;
};

const sizes = fc.integer({ min: 1, max: 300 });
const runs = { numRuns: 150 };

describe("the Merkle log (RFC 9162)", () => {
  it("the frontier's root equals the definition's root at every size, appended in any batches", () => {
    fc.assert(
      fc.property(
        sizes,
        fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 10 }),
        (n, batches) => {
          const leaves = leavesOf(n);
          let frontier: ReturnType<typeof appendLeaves>["frontier"] = [];
          let size = 0;
          for (const b of [...batches, n]) {
            const chunk = leaves.slice(size, Math.min(n, size + b));
            ({ frontier, size } = appendLeaves(frontier, size, chunk));
            expect(rootOfFrontier(frontier).equals(rootOfLeaves(leaves.slice(0, size)))).toBe(true);
            if (size === n) break;
          }
        },
      ),
      runs,
    );
  });

  it("every inclusion proof built from the stored levels verifies, and any one-bit change to proof or leaf fails", () => {
    fc.assert(
      fc.property(sizes, fc.nat(), fc.nat(), fc.nat(), (n, a, b, bit) => {
        const leaves = leavesOf(n);
        const { stored, roots } = buildStore(leaves, [7, 3, 64]);
        const size = 1 + (a % n);
        const index = b % size;
        const proof = inclusionRanges(index, size).map((r) => hashOfRange(r.start, r.end, stored));
        const root = roots[size] as Hash;
        const leaf = leaves[index] as Hash;
        expect(verifyInclusion(index, size, leaf, proof, root)).toBe(true);
        expect(verifyInclusion(index, size, flipBit(leaf, bit), proof, root)).toBe(false);
        if (proof.length > 0) {
          const i = bit % proof.length;
          const bad = proof.map((h, j) => (j === i ? flipBit(h, bit) : h));
          expect(verifyInclusion(index, size, leaf, bad, root)).toBe(false);
          expect(verifyInclusion(index, size, leaf, proof.slice(1), root)).toBe(false);
        }
        if (size > 1)
          expect(verifyInclusion((index + 1) % size, size, leaf, proof, root)).toBe(false);
      }),
      runs,
    );
  });

  it("every consistency proof m ≤ n verifies, and any one-bit change to it or to either root fails", () => {
    fc.assert(
      fc.property(sizes, fc.nat(), fc.nat(), fc.nat(), (n, a, b, bit) => {
        const leaves = leavesOf(n);
        const { stored, roots } = buildStore(leaves, [5, 17]);
        const size2 = 1 + (a % n);
        const size1 = 1 + (b % size2);
        const proof = consistencyRanges(size1, size2).map((r) =>
          hashOfRange(r.start, r.end, stored),
        );
        const r1 = roots[size1] as Hash;
        const r2 = roots[size2] as Hash;
        expect(verifyConsistency(size1, size2, proof, r1, r2)).toBe(true);
        if (size1 < size2) {
          expect(verifyConsistency(size1, size2, proof, flipBit(r1, bit), r2)).toBe(false);
          expect(verifyConsistency(size1, size2, proof, r1, flipBit(r2, bit))).toBe(false);
          if (proof.length > 0) {
            const i = bit % proof.length;
            expect(
              verifyConsistency(
                size1,
                size2,
                proof.map((h, j) => (j === i ? flipBit(h, bit) : h)),
                r1,
                r2,
              ),
            ).toBe(false);
          }
        }
      }),
      runs,
    );
  });

  it("a range proof rebuilds the root from a run of leaves, and a changed leaf or proof hash does not", () => {
    fc.assert(
      fc.property(sizes, fc.nat(), fc.nat(), fc.nat(), fc.nat(), (n, a, b, c, bit) => {
        const leaves = leavesOf(n);
        const { stored, roots } = buildStore(leaves, [9]);
        const size = 1 + (a % n);
        const start = b % size;
        const end = start + 1 + (c % (size - start));
        const proof = rangeProofRanges(start, end, size).map((r) =>
          hashOfRange(r.start, r.end, stored),
        );
        const run = leaves.slice(start, end);
        expect(rootFromRangeProof(start, run, size, proof)?.equals(roots[size] as Hash)).toBe(true);
        const j = bit % run.length;
        const changed = run.map((h, i) => (i === j ? flipBit(h, bit) : h));
        expect(
          rootFromRangeProof(start, changed, size, proof)?.equals(roots[size] as Hash) ?? false,
        ).toBe(false);
        if (proof.length > 0) {
          const k = bit % proof.length;
          const bad = proof.map((h, i) => (i === k ? flipBit(h, bit) : h));
          expect(
            rootFromRangeProof(start, run, size, bad)?.equals(roots[size] as Hash) ?? false,
          ).toBe(false);
          expect(rootFromRangeProof(start, run, size, proof.slice(1))).toBeNull();
        }
      }),
      runs,
    );
  });

  it("a proof reads O(log n) stored nodes: at most 2^(stride-1) per proof hash", () => {
    const n = 100_000;
    for (const index of [0, 1, 4_095, 65_536, 99_999]) {
      const needed = storedNodesForAll(
        rangeNodes(0, 0).concat(
          ...inclusionRanges(index, n).map((r) => rangeNodes(r.start, r.end)),
        ),
      );
      expect(needed.length).toBeLessThanOrEqual(
        Math.ceil(Math.log2(n)) * 2 ** (DEFAULT_STRIDE - 1) * 2,
      );
    }
  });
});
