import { type Hash, nodeHash } from "./hash";
import { type NodeId, nodeKey, type StoredNode } from "./nodes";

/**
 * Which complete subtrees a store keeps: every node whose level is a multiple of `stride`
 * (level 0, the leaves, always). Keeping one level in `stride` costs about 1/2^stride extra rows
 * per leaf above the leaves themselves, and any other node is a fold of at most 2^(stride-1)
 * stored ones, so a proof stays O(log n) reads (each of a bounded number of rows), like tiles.
 */
export const DEFAULT_STRIDE = 4;

export function isStoredLevel(level: number, stride = DEFAULT_STRIDE): boolean {
  return level % stride === 0;
}

/** The stored nodes whose fold gives `node`. */
export function storedNodesFor(node: NodeId, stride = DEFAULT_STRIDE): NodeId[] {
  const below = node.level % stride;
  if (below === 0) return [node];
  const width = 2 ** below;
  const base = node.level - below;
  return Array.from({ length: width }, (_, i) => ({ level: base, index: node.index * width + i }));
}

/** Every stored node needed for a set of nodes, without repeats. */
export function storedNodesForAll(nodes: readonly NodeId[], stride = DEFAULT_STRIDE): NodeId[] {
  const seen = new Map<string, NodeId>();
  for (const node of nodes) for (const s of storedNodesFor(node, stride)) seen.set(nodeKey(s), s);
  return [...seen.values()];
}

/** Computes `node` from stored nodes looked up by key (`nodeKey`); throws naming the first one missing. */
export function resolveNode(
  node: NodeId,
  stored: ReadonlyMap<string, Hash>,
  stride = DEFAULT_STRIDE,
): Hash {
  let layer = storedNodesFor(node, stride).map((id) => {
    const hash = stored.get(nodeKey(id));
    if (!hash) throw new Error(`tree node ${nodeKey(id)} is missing from the store`);
    return hash;
  });
  while (layer.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i < layer.length; i += 2)
      next.push(nodeHash(layer[i] as Hash, layer[i + 1] as Hash));
    layer = next;
  }
  return layer[0] as Hash;
}

/** The nodes of a batch append that a store keeps. */
export function nodesToStore(
  created: readonly StoredNode[],
  stride = DEFAULT_STRIDE,
): StoredNode[] {
  return created.filter((node) => isStoredLevel(node.level, stride));
}
