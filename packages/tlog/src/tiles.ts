import { HASH_SIZE, type Hash } from "./hash";
import { type NodeId, nodeKey, type StoredNode } from "./nodes";

/**
 * Stored nodes are kept in tiles (as C2SP tlog-tiles does): the nodes of one stored level with
 * indexes [tile·16, tile·16 + 16), their hashes concatenated in index order. A store writes a
 * few tiles per batch instead of a row per leaf, and a proof still reads O(log n) rows.
 * A tile holding fewer than 16 hashes is the partial right edge of its level; appends extend it.
 */
export const TILE_WIDTH = 16;

export interface TileId {
  level: number;
  tile: number;
}

/** Where a batch's stored nodes go: per tile, the first slot they fill and their hashes. */
export interface TileWrite extends TileId {
  /** Slot of the first new hash: the tile must hold exactly this many hashes before the write. */
  offset: number;
  hashes: Buffer;
}

export function tileOf(node: NodeId): TileId {
  return { level: node.level, tile: Math.floor(node.index / TILE_WIDTH) };
}

/**
 * Groups the stored nodes of an append (as `nodesToStore` gives them) into one write per tile.
 * An append creates the nodes of each level in index order without gaps, so each tile's new
 * hashes are consecutive slots.
 */
export function tileWrites(nodes: readonly StoredNode[]): TileWrite[] {
  const byTile = new Map<string, { id: TileId; offset: number; hashes: Hash[] }>();
  for (const node of nodes) {
    const id = tileOf(node);
    const key = `${id.level}/${id.tile}`;
    const slot = node.index - id.tile * TILE_WIDTH;
    const write = byTile.get(key);
    if (!write) byTile.set(key, { id, offset: slot, hashes: [node.hash] });
    else if (slot === write.offset + write.hashes.length) write.hashes.push(node.hash);
    else throw new Error(`stored node ${nodeKey(node)} does not follow the tile's last one`);
  }
  return [...byTile.values()].map((w) => ({
    ...w.id,
    offset: w.offset,
    hashes: Buffer.concat(w.hashes),
  }));
}

/** The tiles holding a set of stored nodes, without repeats. */
export function tilesFor(nodes: readonly NodeId[]): TileId[] {
  const seen = new Map<string, TileId>();
  for (const node of nodes) {
    const id = tileOf(node);
    seen.set(`${id.level}/${id.tile}`, id);
  }
  return [...seen.values()];
}

/** The stored nodes a set of tiles holds, keyed by `nodeKey` (for `resolveNode`). */
export function nodesOfTiles(
  tiles: readonly (TileId & { hashes: Uint8Array })[],
): Map<string, Hash> {
  const out = new Map<string, Hash>();
  for (const t of tiles) {
    const bytes = Buffer.from(t.hashes.buffer, t.hashes.byteOffset, t.hashes.byteLength);
    for (let slot = 0; (slot + 1) * HASH_SIZE <= bytes.length; slot++) {
      const index = t.tile * TILE_WIDTH + slot;
      out.set(
        nodeKey({ level: t.level, index }),
        bytes.subarray(slot * HASH_SIZE, (slot + 1) * HASH_SIZE),
      );
    }
  }
  return out;
}
