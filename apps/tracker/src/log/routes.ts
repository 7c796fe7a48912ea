import type { IncomingMessage, ServerResponse } from "node:http";
import { formatTlogProof, HASH_SIZE, TILE_WIDTH } from "@berth/tlog";
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  RawServerDefault,
} from "fastify";
import type postgres from "postgres";
import { z } from "zod";
import { consistencyProof, inclusionProof, rangeProof } from "./proofs";

/** At most this many entries a page: a bundle of a long log is read in pages. */
export const MAX_ENTRIES_PAGE = 5000;

const index = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const account = z.string().min(1).max(200);
const checkpointQuery = z.object({ account, size: index.optional() });
const inclusionQuery = z
  .object({ account, size: index.optional(), index: index.optional(), id: z.uuid().optional() })
  .refine((q) => (q.index === undefined) !== (q.id === undefined), {
    message: "give exactly one of index and id",
  });
const consistencyQuery = z
  .object({ account, from: index, to: index })
  .refine((q) => q.from <= q.to, { message: "from must not exceed to" });
const rangeQuery = z
  .object({ account, start: index, end: index, size: index.optional() })
  .refine((q) => q.start < q.end, { message: "start must be below end" });

export interface LogRouteDeps {
  sql: postgres.Sql;
  verifierKey: string;
  /** The path's region when this tracker serves it (else it has answered 404). */
  regionOf(req: FastifyRequest, reply: FastifyReply): string | undefined;
  /** Checks the query key (else it has answered 401). */
  queryAuth(req: FastifyRequest, reply: FastifyReply): boolean;
}

const fail = (reply: FastifyReply, status: number, error: string) =>
  reply.code(status).send({ status: "error", error });

/** The verifiable log's read API (docs/verifiable-log.md). */
export function registerLogRoutes<L extends FastifyBaseLogger>(
  app: FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, L>,
  deps: LogRouteDeps,
): void {
  const { sql } = deps;

  async function logSize(region: string, acct: string): Promise<number> {
    const [row] = await sql<{ size: number | bigint }[]>`
      select size from tracker.logs where account_id = ${acct} and region = ${region}`;
    return row ? Number(row.size) : 0;
  }

  async function checkpointAt(region: string, acct: string, size?: number) {
    const [row] = await sql<{ size: number | bigint; note: string }[]>`
      select size, note from tracker.checkpoints
       where account_id = ${acct} and region = ${region}
         ${size === undefined ? sql`` : sql`and size = ${size}`}
       order by size desc limit 1`;
    return row ? { size: Number(row.size), note: row.note } : undefined;
  }

  function parse<T>(schema: z.ZodType<T>, req: FastifyRequest, reply: FastifyReply): T | undefined {
    const q = schema.safeParse(req.query);
    if (q.success) return q.data;
    void fail(reply, 400, z.prettifyError(q.error));
    return undefined;
  }

  app.get("/regions/:region/v2/log/key", async (req, reply) => {
    if (!deps.regionOf(req, reply)) return reply;
    return { key: deps.verifierKey };
  });

  app.get("/regions/:region/v2/log/checkpoint", async (req, reply) => {
    const region = deps.regionOf(req, reply);
    if (!region || !deps.queryAuth(req, reply)) return reply;
    const q = parse(checkpointQuery, req, reply);
    if (!q) return reply;
    const found = await checkpointAt(region, q.account, q.size);
    if (!found)
      return fail(
        reply,
        404,
        q.size === undefined ? "this log has no checkpoint yet" : `no checkpoint of size ${q.size}`,
      );
    return { size: found.size, checkpoint: found.note };
  });

  app.get("/regions/:region/v2/log/proof/inclusion", async (req, reply) => {
    const region = deps.regionOf(req, reply);
    if (!region || !deps.queryAuth(req, reply)) return reply;
    const q = parse(inclusionQuery, req, reply);
    if (!q) return reply;
    const checkpoint = await checkpointAt(region, q.account, q.size);
    if (!checkpoint) return fail(reply, 404, "no checkpoint of that size");
    let at = q.index;
    if (q.id !== undefined) {
      const [row] = await sql<{ log_index: number | bigint | null }[]>`
        select log_index from tracker.events where id = ${q.id} and account_id = ${q.account} and region = ${region}`;
      if (!row || row.log_index === null) return fail(reply, 404, "no such event in this log");
      at = Number(row.log_index);
    }
    if ((at as number) >= checkpoint.size)
      return fail(
        reply,
        404,
        `index ${at} is not covered by the checkpoint of size ${checkpoint.size}`,
      );
    const proof = await inclusionProof(sql, region, q.account, at as number, checkpoint.size);
    reply.type("text/plain; charset=utf-8");
    return formatTlogProof({ index: at as number, proof, checkpoint: checkpoint.note });
  });

  app.get("/regions/:region/v2/log/proof/consistency", async (req, reply) => {
    const region = deps.regionOf(req, reply);
    if (!region || !deps.queryAuth(req, reply)) return reply;
    const q = parse(consistencyQuery, req, reply);
    if (!q) return reply;
    if (q.to > (await logSize(region, q.account)))
      return fail(reply, 404, `the log is smaller than ${q.to}`);
    const proof = await consistencyProof(sql, region, q.account, q.from, q.to);
    return { from: q.from, to: q.to, proof: proof.map((h) => h.toString("base64")) };
  });

  app.get("/regions/:region/v2/log/proof/range", async (req, reply) => {
    const region = deps.regionOf(req, reply);
    if (!region || !deps.queryAuth(req, reply)) return reply;
    const q = parse(rangeQuery, req, reply);
    if (!q) return reply;
    const size = q.size ?? (await checkpointAt(region, q.account))?.size ?? 0;
    if (q.end > size || size > (await logSize(region, q.account)))
      return fail(reply, 404, `[${q.start}, ${q.end}) is not in a log of size ${size}`);
    const proof = await rangeProof(sql, region, q.account, q.start, q.end, size);
    return { start: q.start, end: q.end, size, proof: proof.map((h) => h.toString("base64")) };
  });

  app.get("/regions/:region/v2/log/entries", async (req, reply) => {
    const region = deps.regionOf(req, reply);
    if (!region || !deps.queryAuth(req, reply)) return reply;
    const q = parse(rangeQuery, req, reply);
    if (!q) return reply;
    if (q.end - q.start > MAX_ENTRIES_PAGE)
      return fail(reply, 400, `at most ${MAX_ENTRIES_PAGE} entries a page`);
    // Each event with the leaf the tree holds at its index (not a column of the event row, so an
    // altered, moved or forged row shows as a mismatch there).
    const rows = await sql<
      { id: string; log_index: number | bigint; leaf_hash: Buffer | null; payload: unknown }[]
    >`
      select e.id, e.log_index, e.payload,
             case when octet_length(t.hashes) >= (e.log_index % ${TILE_WIDTH} + 1) * ${HASH_SIZE}
                  then substring(t.hashes from ((e.log_index % ${TILE_WIDTH}) * ${HASH_SIZE} + 1)::int
                                 for ${HASH_SIZE}::int) end as leaf_hash
        from tracker.events e
        left join tracker.log_tiles t on t.account_id = e.account_id and t.region = e.region
                                     and t.level = 0 and t.idx = e.log_index / ${TILE_WIDTH}
       where e.account_id = ${q.account} and e.region = ${region}
         and e.log_index >= ${q.start} and e.log_index < ${q.end}
       order by e.log_index`;
    return {
      entries: rows.map((r) => ({
        index: Number(r.log_index),
        id: r.id,
        leaf: r.leaf_hash?.toString("base64") ?? null,
        event: r.payload,
      })),
    };
  });
}
