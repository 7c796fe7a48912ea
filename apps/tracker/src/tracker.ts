import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { healthRoutes, isLoopback, refuseBuiltInSecrets } from "@berth/service";
import {
  DEFAULT_INGESTION_KEY,
  DEFAULT_QUERY_KEY,
  exportQuerySchema,
  type IngestResponse,
  isRegionToken,
  lookupRegion,
  parseRegionTable,
  type RegionTable,
  tailQuerySchema,
} from "@berth/tracker-client";
import Fastify, { type FastifyReply, type FastifyRequest, LogController } from "fastify";
import pino, { type Logger } from "pino";
import postgres from "postgres";
import { z } from "zod";
import { keyMatches, presentedKey } from "./auth";
import {
  checkLines,
  ingestBodySchema,
  ingestParamsSchema,
  MAX_BODY_BYTES,
  mayHoldUnstorable,
} from "./ingest";
import { IngestGroups } from "./ingest-group";
import { startCheckpointer } from "./log/checkpointer";
import { registerLogRoutes } from "./log/routes";
import { loadSigningKey, verifierKeyOf } from "./log/signing-key";
import { trackerMetrics } from "./metrics";
import { migrateTracker } from "./migrate";
import {
  BadCursorError,
  batchOf,
  exportEvents,
  type TailRow,
  UNLOGGED_FOR_BENCHMARK,
} from "./store";
import { TailHub, TailLimitError } from "./tail";

export interface TrackerOptions {
  databaseUrl: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** Ingestion keys: one for every region, `region=key,...`, or a parsed table. */
  ingestionKeys?: string | RegionTable;
  queryKey?: string;
  logger?: Logger;
  /** Apply the tracker's migrations first (default true). */
  migrate?: boolean;
  /** Connections of the tracker's pool. */
  poolMax?: number;
  /** The checkpoint signing key (note signing-key text); else kept in `signingKeyFile`, made once. */
  signingKey?: string;
  signingKeyFile?: string;
  /** Open live tails per account on this process (default 10); past it a tail is refused 429. */
  maxTailsPerAccount?: number;
}

export interface TrackerStats {
  /** Ingestion requests answered 200. */
  batches: number;
  /** Lines received in those requests, every delivery counted. */
  received: number;
  accepted: number;
  duplicates: number;
  rejected: number;
}

export interface RunningTracker {
  url: string;
  port: number;
  /** The verifier key of its checkpoints (C2SP note verifier key). */
  verifierKey: string;
  /** Signs checkpoints for grown logs now (tests; it also runs on its own). */
  checkpointNow(): Promise<number>;
  stats(): TrackerStats;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

const regionParams = z.object({
  region: z.string().refine(isRegionToken, { message: "is not a region name" }),
});

function problem(reply: FastifyReply, status: number, error: string) {
  return reply.code(status).send({ status: "error", error });
}

/** Start the local Activity Tracker: ingestion, export, live tail, health and metrics. */
export async function startTracker(opts: TrackerOptions): Promise<RunningTracker> {
  const keys =
    typeof opts.ingestionKeys === "object"
      ? opts.ingestionKeys
      : parseRegionTable("BERTH_TRACKER_KEYS", opts.ingestionKeys ?? DEFAULT_INGESTION_KEY);
  const queryKey = opts.queryKey ?? DEFAULT_QUERY_KEY;
  const host = opts.host ?? "127.0.0.1";
  refuseBuiltInSecrets(host, [
    {
      variable: "BERTH_TRACKER_KEYS",
      builtIn:
        keys.fallback === DEFAULT_INGESTION_KEY ||
        Object.values(keys.entries).includes(DEFAULT_INGESTION_KEY),
    },
    { variable: "BERTH_TRACKER_QUERY_KEY", builtIn: queryKey === DEFAULT_QUERY_KEY },
  ]);
  if (UNLOGGED_FOR_BENCHMARK && !isLoopback(host)) {
    throw new Error("BERTH_BENCH_UNLOGGED is for benchmarks on loopback only");
  }
  const log = opts.logger ?? pino({ level: "info" });
  if (UNLOGGED_FOR_BENCHMARK) log.warn("BERTH_BENCH_UNLOGGED: events are not entered in the log");
  if (opts.migrate !== false) await migrateTracker(opts.databaseUrl);
  const sql = postgres(opts.databaseUrl, {
    max: opts.poolMax ?? 10,
    onnotice: () => {},
    types: { bigint: postgres.BigInt },
    connection: { application_name: "berth-tracker" },
  });
  const hub = new TailHub(sql, log, opts.maxTailsPerAccount);
  await hub.start();
  const signingKey = await loadSigningKey({ key: opts.signingKey, file: opts.signingKeyFile });
  const verifierKey = verifierKeyOf(signingKey);
  const checkpointer = startCheckpointer(sql, signingKey, log);
  const ingestGroups = new IngestGroups(sql, (placed) => metrics.transactions.inc({ placed }));
  const metrics = trackerMetrics({
    tailSubscribers: () => hub.size,
    refusedWrites: () => ingestGroups.refusedWrites,
  });
  const stats: TrackerStats = { batches: 0, received: 0, accepted: 0, duplicates: 0, rejected: 0 };
  const openTails = new Set<() => void>();

  const app = Fastify({
    loggerInstance: log,
    // Per-request lines at thousands of batches a second would drown the useful ones.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    genReqId: () => randomUUID(),
  });
  // The events are validated field by field with a strict schema, so the prototype-poisoning
  // scan of the default parser buys nothing and costs a second pass over large bodies.
  app.removeContentTypeParser("application/json");
  // The raw text is kept for ingestion: Postgres reads the stored events straight from it.
  const rawBodies = new WeakMap<object, string>();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    try {
      const parsed: unknown = JSON.parse(body as string);
      rawBodies.set(req, body as string);
      done(null, parsed);
    } catch {
      const error = Object.assign(new Error("body is not valid JSON"), { statusCode: 400 });
      done(error, undefined);
    }
  });
  app.setErrorHandler((error: { statusCode?: number; message: string }, req, reply) => {
    const status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
    if (status < 500) return problem(reply, status, error.message);
    // The cause (a database error naming tables, addresses, statements) is the operator's:
    // the client gets the request id to quote.
    log.error({ err: error, requestId: req.id }, "request failed");
    return problem(reply, status, `internal error (request ${req.id})`);
  });

  /** The region of the path, when this tracker serves it (a key table lists its regions). */
  function regionOf(req: FastifyRequest, reply: FastifyReply): string | undefined {
    const p = regionParams.safeParse(req.params);
    if (!p.success || lookupRegion(keys, p.data.region) === undefined) {
      void problem(reply, 404, "this tracker does not serve that region");
      return undefined;
    }
    return p.data.region;
  }

  healthRoutes(app, { ready: () => sql`select 1`.execute() });
  app.get("/metrics", async (_req, reply) => {
    reply.header("content-type", metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  /**
   * Region and key are checked when the headers arrive, before a byte of the body is read:
   * an unauthenticated client cannot make the tracker buffer and parse 10 MB of JSON. The
   * connection is closed after the refusal, so the rest of such a body is not read either.
   */
  async function ingestAuth(req: FastifyRequest, reply: FastifyReply) {
    const p = regionParams.safeParse(req.params);
    const expected = p.success ? lookupRegion(keys, p.data.region) : undefined;
    if (expected === undefined) {
      reply.header("connection", "close");
      return problem(reply, 404, "this tracker does not serve that region");
    }
    if (!keyMatches(presentedKey(req.headers), expected)) {
      metrics.batches.inc({ status: "401" });
      reply.header("connection", "close");
      return problem(reply, 401, "missing or wrong ingestion key for this region");
    }
  }

  app.post("/regions/:region/logs/ingest", { onRequest: ingestAuth }, async (req, reply) => {
    const started = performance.now();
    const region = regionOf(req, reply);
    if (!region) return reply;
    const body = ingestBodySchema.safeParse(req.body);
    const params = ingestParamsSchema.safeParse(req.query);
    if (!body.success || !params.success) {
      metrics.batches.inc({ status: "400" });
      // The body's problem first, as before the parameters were checked.
      const error = body.error ?? params.error;
      return problem(reply, 400, error?.issues[0]?.message ?? "bad batch");
    }
    const host = params.data.hostname ?? "";
    const raw = rawBodies.get(req);
    // A body that may hold what Postgres refuses goes the slower, per-event way.
    const clean = raw !== undefined && !mayHoldUnstorable(raw);
    const { events, results } = checkLines(body.data.lines, !clean);
    // What is stored (and hashed into the log) is the line's own meta on the raw path.
    const stored = events.map((e) => ({
      ...e,
      stored: clean ? (body.data.lines[e.index] as { meta: unknown }).meta : e.event,
    }));
    const batch = batchOf(host, stored, clean ? raw : undefined);
    const duplicates = await ingestGroups.store(region, batch);
    for (const { index, event } of events) {
      if (duplicates.has(event.id)) results[index] = { index, id: event.id, status: "duplicate" };
    }
    const response: IngestResponse = {
      batchID: randomUUID(),
      status: "ok",
      accepted: 0,
      duplicates: 0,
      rejected: 0,
      results,
    };
    for (const r of results) {
      if (r.status === "accepted") response.accepted++;
      else if (r.status === "duplicate") response.duplicates++;
      else response.rejected++;
    }
    stats.batches++;
    stats.received += results.length;
    stats.accepted += response.accepted;
    stats.duplicates += response.duplicates;
    stats.rejected += response.rejected;
    metrics.batches.inc({ status: "200" });
    metrics.lines.inc({ region, result: "accepted" }, response.accepted);
    metrics.lines.inc({ region, result: "duplicate" }, response.duplicates);
    metrics.lines.inc({ region, result: "rejected" }, response.rejected);
    metrics.ingestSeconds.observe((performance.now() - started) / 1000);
    if (response.rejected > 0) {
      log.warn(
        { region, rejected: results.filter((r) => r.status === "rejected").slice(0, 5) },
        "rejected events",
      );
    }
    return response;
  });

  function queryAuth(req: FastifyRequest, reply: FastifyReply): boolean {
    if (keyMatches(presentedKey(req.headers), queryKey)) return true;
    void problem(reply, 401, "missing or wrong query key");
    return false;
  }

  app.get("/regions/:region/v2/export", async (req, reply) => {
    const region = regionOf(req, reply);
    if (!region || !queryAuth(req, reply)) return reply;
    const q = exportQuerySchema.safeParse(req.query);
    if (!q.success) return problem(reply, 400, z.prettifyError(q.error));
    try {
      metrics.queries.inc();
      return await exportEvents(sql, region, q.data);
    } catch (error) {
      if (error instanceof BadCursorError) return problem(reply, 400, error.message);
      throw error;
    }
  });

  app.get("/regions/:region/v2/tail", async (req, reply) => {
    const region = regionOf(req, reply);
    if (!region || !queryAuth(req, reply)) return reply;
    const q = tailQuerySchema.safeParse(req.query);
    if (!q.success) return problem(reply, 400, z.prettifyError(q.error));
    const lastHeader = req.headers["last-event-id"];
    const lastId =
      typeof lastHeader === "string" && /^\d{1,15}$/.test(lastHeader)
        ? Number(lastHeader)
        : undefined;
    // Rows are written from the moment of subscribing; the stream opens first (a refusal is
    // answered before it, as a plain error), so they are queued until then.
    let res: typeof reply.raw | undefined;
    const queued: TailRow[] = [];
    const write = (rows: TailRow[]) => {
      let chunk = "";
      for (const r of rows)
        chunk += `id: ${r.seq}\nevent: line\ndata: ${JSON.stringify(r.line)}\n\n`;
      res!.write(chunk);
    };
    const send = (rows: TailRow[]) => {
      if (res) write(rows);
      else queued.push(...rows);
    };
    let sub: Awaited<ReturnType<typeof hub.subscribe>>;
    try {
      sub = await hub.subscribe(region, q.data, send, lastId);
    } catch (error) {
      if (error instanceof TailLimitError) {
        log.warn({ account: q.data.account, limit: error.limit }, "tail refused: too many open");
        return problem(reply, 429, error.message);
      }
      throw error;
    }
    reply.hijack();
    res = reply.raw;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    const heartbeat = setInterval(() => res!.write(": ping\n\n"), 15_000);
    const end = () => {
      clearInterval(heartbeat);
      sub.close();
      openTails.delete(end);
      if (!res!.writableEnded) res!.end();
    };
    openTails.add(end);
    res.on("close", end);
    // The client may have gone while the resume was read: its close event is then past.
    if (req.raw.destroyed || res.destroyed) return end();
    res.write("retry: 2000\n\nevent: ready\ndata: {}\n\n");
    if (queued.length > 0) write(queued.splice(0));
  });

  registerLogRoutes(app, { sql, verifierKey, regionOf, queryAuth });

  await app.listen({ host, port: opts.port ?? 0 });
  const port = (app.server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    verifierKey,
    checkpointNow: () => checkpointer.runOnce(),
    stats: () => ({ ...stats }),
    metrics: () => metrics.registry.metrics(),
    stop() {
      stopped ??= (async () => {
        for (const end of [...openTails]) end();
        // In-flight requests get a moment to finish; connections a client keeps open after
        // an aborted stream would otherwise hold the close until the client times them out.
        const force = setTimeout(() => app.server.closeAllConnections(), 1000);
        await app.close();
        clearTimeout(force);
        await checkpointer.stop();
        await hub.stop();
        await sql.end({ timeout: 5 });
      })();
      return stopped;
    },
  };
}
