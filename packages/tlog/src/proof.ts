import { emptyRoot, type Hash, nodeHash, splitPoint } from "./hash";

/** A range [start, end) of leaves whose Merkle tree hash is one element of a proof. */
export interface Range {
  start: number;
  end: number;
}

/** RFC 9162 §2.1.3.1: the ranges whose hashes make the inclusion proof of leaf `index` in a tree of `size`, leaf's sibling first. */
export function inclusionRanges(index: number, size: number): Range[] {
  if (!(index >= 0 && index < size))
    throw new RangeError(`index ${index} is not in a tree of size ${size}`);
  const out: Range[] = [];
  const path = (m: number, lo: number, hi: number): void => {
    if (hi - lo <= 1) return;
    const k = splitPoint(hi - lo);
    if (m < k) {
      path(m, lo, lo + k);
      out.push({ start: lo + k, end: hi });
    } else {
      path(m - k, lo + k, hi);
      out.push({ start: lo, end: lo + k });
    }
  };
  path(index, 0, size);
  return out;
}

/** RFC 9162 §2.1.4.1: the ranges whose hashes make the consistency proof from size m to size n. */
export function consistencyRanges(m: number, n: number): Range[] {
  if (!(m >= 0 && m <= n)) throw new RangeError(`no consistency proof from size ${m} to size ${n}`);
  if (m === 0 || m === n) return [];
  const out: Range[] = [];
  const sub = (m2: number, lo: number, hi: number, whole: boolean): void => {
    if (m2 === hi - lo) {
      if (!whole) out.push({ start: lo, end: hi });
      return;
    }
    const k = splitPoint(hi - lo);
    if (m2 <= k) {
      sub(m2, lo, lo + k, whole);
      out.push({ start: lo + k, end: hi });
    } else {
      sub(m2 - k, lo + k, hi, false);
      out.push({ start: lo, end: lo + k });
    }
  };
  sub(m, 0, n, true);
  return out;
}

const lsb = (x: number): boolean => x % 2 === 1;
const half = (x: number): number => Math.floor(x / 2);

/** RFC 9162 §2.1.3.2: does `proof` show the leaf with hash `leaf` at `index` in the tree of `size` with `root`? */
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Hash,
  proof: readonly Hash[],
  root: Hash,
): boolean {
  if (!(Number.isSafeInteger(index) && Number.isSafeInteger(size) && index >= 0 && index < size))
    return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 §2.1.4.2: does `proof` show the tree of size m with `oldRoot` is a prefix of the tree of size n with `newRoot`? */
export function verifyConsistency(
  m: number,
  n: number,
  proof: readonly Hash[],
  oldRoot: Hash,
  newRoot: Hash,
): boolean {
  if (!(Number.isSafeInteger(m) && Number.isSafeInteger(n) && m >= 0 && m <= n)) return false;
  if (m === 0) return proof.length === 0 && oldRoot.equals(emptyRoot());
  if (m === n) return proof.length === 0 && oldRoot.equals(newRoot);
  const path = [...proof];
  // When m is a power of two the old root is itself a node of the new tree, so the proof omits it.
  if ((m & (m - 1)) === 0) path.unshift(oldRoot);
  if (path.length === 0) return false;
  let fn = m - 1;
  let sn = n - 1;
  while (lsb(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0] as Hash;
  let sr = path[0] as Hash;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return fr.equals(oldRoot) && sr.equals(newRoot) && sn === 0;
}

/**
 * A proof that the consecutive leaves [start, end) sit at those indexes of the tree of `size`:
 * the hashes of the largest subtrees of the RFC 9162 tree that hold none of them, in the order a
 * depth-first walk meets them. For one leaf it is the inclusion proof (in walk order). It lets a
 * whole export be checked against one checkpoint with O(log n) hashes besides its events.
 */
export function rangeProofRanges(start: number, end: number, size: number): Range[] {
  if (!(start >= 0 && start < end && end <= size))
    throw new RangeError(`no range proof for [${start}, ${end}) in a tree of size ${size}`);
  const out: Range[] = [];
  const walk = (lo: number, hi: number): void => {
    if (hi <= start || lo >= end) {
      out.push({ start: lo, end: hi });
      return;
    }
    if (hi - lo === 1) return;
    const k = splitPoint(hi - lo);
    walk(lo, lo + k);
    walk(lo + k, hi);
  };
  walk(0, size);
  return out;
}

/**
 * The root of a tree of `size` from the leaves [start, start + leaves.length) and the hashes of
 * `rangeProofRanges`; null when the proof has too few or too many hashes.
 */
export function rootFromRangeProof(
  start: number,
  leaves: readonly Hash[],
  size: number,
  proof: readonly Hash[],
): Hash | null {
  const end = start + leaves.length;
  if (!(start >= 0 && start < end && end <= size)) return null;
  let next = 0;
  const walk = (lo: number, hi: number): Hash | null => {
    if (hi <= start || lo >= end) return next < proof.length ? (proof[next++] as Hash) : null;
    if (hi - lo === 1) return leaves[lo - start] as Hash;
    const k = splitPoint(hi - lo);
    const left = walk(lo, lo + k);
    const right = left && walk(lo + k, hi);
    return left && right ? nodeHash(left, right) : null;
  };
  const root = walk(0, size);
  return root && next === proof.length ? root : null;
}
