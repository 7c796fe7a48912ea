import { emptyRoot, type Hash, nodeHash } from "./hash";

/**
 * A complete, aligned subtree: the leaves [index·2^level, (index+1)·2^level). Every hash a
 * proof needs is a fold of such nodes, and each is written once and never changes, which is
 * what lets a store keep them append-only and answer a proof with O(log n) reads.
 */
export interface NodeId {
  level: number;
  index: number;
}

export interface StoredNode extends NodeId {
  hash: Hash;
}

/** The right edge of a tree: one complete subtree per set bit of its size, largest (leftmost) first. */
export type Frontier = StoredNode[];

export function nodeKey(node: NodeId): string {
  return `${node.level}/${node.index}`;
}

/**
 * Appends leaves to a tree whose right edge is `frontier`: returns the new right edge and every
 * complete subtree the new leaves finish (level 0 included), in creation order.
 */
export function appendLeaves(
  frontier: readonly StoredNode[],
  size: number,
  leaves: readonly Hash[],
): { frontier: Frontier; size: number; created: StoredNode[] } {
  const edge = [...frontier];
  const created: StoredNode[] = [];
  let n = size;
  for (const leaf of leaves) {
    let node: StoredNode = { level: 0, index: n, hash: leaf };
    created.push(node);
    // A node with an odd index is a right child: it completes its parent with the node left of it.
    while (edge.length > 0 && (edge[edge.length - 1] as StoredNode).level === node.level) {
      const left = edge.pop() as StoredNode;
      node = { level: node.level + 1, index: left.index / 2, hash: nodeHash(left.hash, node.hash) };
      created.push(node);
    }
    edge.push(node);
    n += 1;
  }
  return { frontier: edge, size: n, created };
}

/** The root of the tree whose right edge is `frontier`. */
export function rootOfFrontier(frontier: readonly StoredNode[]): Hash {
  if (frontier.length === 0) return emptyRoot();
  let hash = (frontier[frontier.length - 1] as StoredNode).hash;
  for (let i = frontier.length - 2; i >= 0; i--)
    hash = nodeHash((frontier[i] as StoredNode).hash, hash);
  return hash;
}

/** The complete subtrees whose fold is MTH(D[start:end]) for a range of the RFC 9162 tree, left to right. */
export function rangeNodes(start: number, end: number): NodeId[] {
  const out: NodeId[] = [];
  let at = start;
  while (at < end) {
    let level = 0;
    while (at % 2 ** (level + 1) === 0 && at + 2 ** (level + 1) <= end) level += 1;
    out.push({ level, index: at / 2 ** level });
    at += 2 ** level;
  }
  return out;
}

/** Folds the hashes of `rangeNodes(start, end)` (in that order) into MTH(D[start:end]). */
export function foldRange(hashes: readonly Hash[]): Hash {
  if (hashes.length === 0) throw new Error("an empty range has no hash");
  let hash = hashes[hashes.length - 1] as Hash;
  for (let i = hashes.length - 2; i >= 0; i--) hash = nodeHash(hashes[i] as Hash, hash);
  return hash;
}

/** The frontier of a tree of `size` leaves, as node ids (for rebuilding it from stored nodes). */
export function frontierNodes(size: number): NodeId[] {
  return rangeNodes(0, size);
}
