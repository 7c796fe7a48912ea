import {
  consistencyRanges,
  foldRange,
  type Hash,
  inclusionRanges,
  type NodeId,
  nodesOfTiles,
  type Range,
  rangeNodes,
  rangeProofRanges,
  resolveNode,
  storedNodesForAll,
  tilesFor,
} from "@berth/tlog";
import type postgres from "postgres";

/**
 * Reads the tiles holding the stored nodes a set of proof ranges needs, in one query, and folds
 * each range's hash: O(log n) rows per proof.
 */
export async function hashRanges(
  sql: postgres.Sql,
  region: string,
  account: string,
  ranges: readonly Range[],
): Promise<Hash[]> {
  const perRange = ranges.map((r) => rangeNodes(r.start, r.end));
  const needed = tilesFor(storedNodesForAll(perRange.flat()));
  const rows = await sql<{ level: number; idx: number | bigint; hashes: Buffer }[]>`
    select level, idx, hashes from tracker.log_tiles
     where account_id = ${account} and region = ${region}
       and (level, idx) in (select * from unnest(${needed.map((n) => n.level)}::smallint[],
                                                 ${needed.map((n) => n.tile)}::bigint[]))`;
  const stored = nodesOfTiles(
    rows.map((r) => ({ level: Number(r.level), tile: Number(r.idx), hashes: r.hashes })),
  );
  return perRange.map((nodes: NodeId[]) => foldRange(nodes.map((n) => resolveNode(n, stored))));
}

export const inclusionProof = (
  sql: postgres.Sql,
  region: string,
  account: string,
  index: number,
  size: number,
) => hashRanges(sql, region, account, inclusionRanges(index, size));

export const consistencyProof = (
  sql: postgres.Sql,
  region: string,
  account: string,
  from: number,
  to: number,
) => hashRanges(sql, region, account, consistencyRanges(from, to));

export const rangeProof = (
  sql: postgres.Sql,
  region: string,
  account: string,
  start: number,
  end: number,
  size: number,
) => hashRanges(sql, region, account, rangeProofRanges(start, end, size));
