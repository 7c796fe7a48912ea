import { type Frontier, HASH_SIZE, type StoredNode } from "@berth/tlog";

/**
 * The logs row keeps the frontier as its hashes alone, concatenated: their levels and indexes
 * follow from the size (one subtree per set bit, largest first).
 */
export function decodeFrontier(size: number, bytes: Buffer): Frontier {
  const out: StoredNode[] = [];
  let at = 0;
  let offset = 0;
  for (let level = 52; level >= 0; level--) {
    const width = 2 ** level;
    if (Math.floor(size / width) % 2 === 1) {
      out.push({ level, index: at / width, hash: bytes.subarray(offset, offset + HASH_SIZE) });
      at += width;
      offset += HASH_SIZE;
    }
  }
  if (offset !== bytes.length)
    throw new Error(
      `a log's frontier holds ${bytes.length} bytes, not ${offset}, for size ${size}`,
    );
  return out;
}

export function encodeFrontier(frontier: Frontier): Buffer {
  return Buffer.concat(frontier.map((n) => n.hash));
}
