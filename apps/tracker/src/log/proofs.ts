import {
  consistencyRanges,
  foldRange,
  type Hash,
  inclusionRanges,
  type NodeId,
  nodeKey,
  type Range,
  rangeNodes,
  rangeProofRanges,
  resolveNode,
  storedNodesForAll,
} from "@berth/tlog";
import type postgres from "postgres";

/**
 * Reads the stored nodes a set of proof ranges needs in one query, and folds each range's hash: O(log n) rows per proof.
 */
export async function hashRanges(
  sql: postgres.Sql,
  region: string,
  account: string,
  ranges: readonly Range[],
): Promise<Hash[]> {
  const perRange = ranges.map((r) => rangeNodes(r.start, r.end));
  const needed = storedNodesForAll(perRange.flat());
  const rows = await sql<{ level: number; idx: number | bigint; hash: Buffer }[]>`
    select level, idx, hash from tracker.log_nodes
     where account_id = ${account} and region = ${region}
       and (level, idx) in (select * from unnest(${needed.map((n) => n.level)}::smallint[],
                                                 ${needed.map((n) => n.index)}::bigint[]))`;
  const stored = new Map<string, Hash>(
    rows.map((r) => [nodeKey({ level: Number(r.level), index: Number(r.idx) }), r.hash]),
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
