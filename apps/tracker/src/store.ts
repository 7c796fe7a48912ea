import type { AtEvent } from "@berth/core";
import { isDatabaseUnavailable } from "@berth/db";
import type { ParsedEventFilter, ParsedExportQuery, TrackerLine } from "@berth/tracker-client";
import { levelOf } from "@berth/tracker-client";
import type postgres from "postgres";
import {
  crnAccount,
  type KnownLogs,
  type LogAppend,
  placeInKnownLogs,
  placeInLogs,
} from "./log/append";

/** Notified at commit of each ingested batch: `{r, lo, hi, a}` (region, seq range, accounts). */
export const TRACKER_CHANNEL = "berth_tracker_events";
/** Beyond this many accounts in one batch the notification says "any account". */
const MAX_NOTIFIED_ACCOUNTS = 20;

export interface BatchNote {
  r: string;
  lo: number;
  hi: number;
  a: string[] | null;
}

type Sql = postgres.Sql;

/**
 * Benchmark only: `pnpm bench:delivery` starts a second tracker process with
 * BERTH_BENCH_UNLOGGED=1, so that the cost of the verifiable log is a printed percentage.
 * Events are then stored without a log index and never enter a Merkle log. No configuration
 * of a deployment reads or sets it (it is not in the tracker's settings), and startTracker
 * refuses it on any host but loopback: a tracker whose events are not logged cannot be
 * verified.
 */
export const UNLOGGED_FOR_BENCHMARK = process.env.BERTH_BENCH_UNLOGGED === "1";

/** The benchmark's placement without the log: only the duplicates check. */
async function unlogged(
  tx: postgres.TransactionSql,
  events: readonly { event: AtEvent }[],
): Promise<Pick<LogAppend, "indexes" | "duplicates" | "tiles" | "logs">> {
  const found = await tx<{ id: string }[]>`
    select id::text from tracker.events where id = any(${events.map((e) => e.event.id)}::uuid[])`;
  return {
    indexes: new Map(),
    duplicates: new Set(found.map((r) => r.id)),
    tiles: { account: [], level: [], idx: [], offset: [], hashes: [] },
    logs: { account: [], was: [], wasFrontier: [], size: [], frontier: [] },
  };
}

/** One ingestion request's new events, as `insertEvents` stores them with its neighbours'. */
export interface IngestBatch {
  /** The request's `hostname`, stored with each of its events. */
  host: string;
  /**
   * JSON text `{"lines": [{"meta": <event>}, ...]}`: the request body itself when Postgres can
   * read it (no second serialisation in JS), else one written from the checked events.
   */
  body: string;
  /** Each event with its line in `body`; `stored` is the line's `meta`, what its leaf commits to. */
  events: { line: number; event: AtEvent; stored: unknown }[];
  /** Whether `body` is the request's own: Postgres may refuse what the events do not hold. */
  isRequestBody: boolean;
}

/**
 * A request's batch. Given `raw`, the request body, Postgres reads each event from it (its
 * line is its index there, and `stored` must be that line's `meta`); else from a body written
 * here from the events' `stored` values.
 */
export function batchOf(
  host: string,
  events: readonly { index: number; event: AtEvent; stored: unknown }[],
  raw?: string,
): IngestBatch {
  if (raw !== undefined) {
    return {
      host,
      body: raw,
      events: events.map((e) => ({ line: e.index, event: e.event, stored: e.stored })),
      isRequestBody: true,
    };
  }
  return {
    host,
    body: JSON.stringify({ lines: events.map((e) => ({ meta: e.stored })) }),
    events: events.map((e, line) => ({ line, event: e.event, stored: e.stored })),
    isRequestBody: false,
  };
}

/**
 * The batch with a body written from its events' stored values: for a request body Postgres
 * refused outside the events (another field holding a number beyond its range, or nested
 * deeper than its parser goes), which the line checks do not look at.
 */
export function rewritten(batch: IngestBatch): IngestBatch {
  return batchOf(
    batch.host,
    batch.events.map((e) => ({ index: e.line, event: e.event, stored: e.stored })),
  );
}

/**
 * The batches' bodies as one JSON array (each body is JSON text: parsed, or written here). The
 * statement casts it ::text first: a parameter Postgres reads as jsonb goes through
 * postgres.js's JSON serialiser, which would send the text as one JSON string.
 */
function bodiesArray(batches: readonly IngestBatch[]): string {
  return `[${batches.map((b) => b.body).join(",")}]`;
}

/** How a write placed its events in the logs (see insertEvents). */
export type Placement = "remembered" | "locked";

/**
 * Store the events of several ingestion requests of one region in one transaction (the
 * tracker group-commits concurrent requests: `ingest-group.ts`): place the new events in their
 * account domains' Merkle logs, insert them with their index and leaf hash, write the new tree
 * nodes and frontiers, and notify tails, all in one commit. Returns, per batch, the ids not
 * stored for it because they were already: stored before (the event id is the idempotency
 * key, so a redelivery never enters a log twice) or earlier in the group.
 *
 * Given `known`, the logs this process wrote last, the events are placed from them and
 * written in one statement, its own transaction: one round trip instead of four (BEGIN, the
 * placement, the write, COMMIT), each of which waits for a core on a busy machine (at 1,000
 * events/s on 2 cores, ~2-3 ms each). That statement fails whole if a log is no longer as
 * remembered (another tracker process grew it) or an event is already stored; the events are
 * then placed under the logs' locks (`placeInLogs`, which locks each domain's log row, so
 * indexes are gap-free and in one order across tracker processes) in a transaction, from the
 * leaves already computed; a log that had moved is then placed under the lock only for a
 * while (KnownLogs.contend). `placed` says which way the events were placed.
 */
export async function insertEvents(
  sql: Sql,
  region: string,
  batches: readonly IngestBatch[],
  known?: KnownLogs,
): Promise<{ duplicates: Set<string>[]; placed: Placement }> {
  const perBatch = batches.map(() => new Set<string>());
  // One entry per id, the first occurrence in the group's order; later ones are duplicates.
  const first = new Map<string, { k: number; line: number; event: AtEvent; stored: unknown }>();
  batches.forEach((b, k) => {
    for (const e of b.events) {
      if (first.has(e.event.id)) perBatch[k]!.add(e.event.id);
      else first.set(e.event.id, { k, ...e });
    }
  });
  const events = [...first.values()];
  if (events.length === 0) return { duplicates: perBatch, placed: "locked" };
  const remembered = known && !UNLOGGED_FOR_BENCHMARK && placeInKnownLogs(known, region, events);
  if (remembered) {
    try {
      await writeEvents(sql, region, batches, events, remembered.placed);
      known.record(region, remembered.placed.logs);
      return { duplicates: perBatch, placed: "remembered" };
    } catch (error) {
      if (isDatabaseUnavailable(error)) {
        known.forget(region, remembered.placed.logs.account);
        throw error;
      }
      known.refused(region, remembered.placed.logs.account);
    }
  }
  try {
    const placed = await sql.begin(async (tx) => {
      const placed = UNLOGGED_FOR_BENCHMARK
        ? await unlogged(tx, events)
        : await placeInLogs(tx, region, events, remembered ? remembered.leaves : undefined);
      const fresh = events.filter((e) => !placed.duplicates.has(e.event.id));
      if (fresh.length > 0) await writeEvents(tx, region, batches, fresh, placed);
      return placed;
    });
    for (const e of events) {
      if (placed.duplicates.has(e.event.id)) perBatch[e.k]!.add(e.event.id);
    }
    if (remembered) known.contend(region, remembered.placed.logs, placed.logs);
    known?.record(region, placed.logs);
    return { duplicates: perBatch, placed: "locked" };
  } catch (error) {
    // Committed or not, the logs may have grown: remembered states of them are stale.
    known?.forget(region, new Set(events.map((e) => crnAccount(e.event.target.id))));
    throw error;
  }
}

/**
 * One statement: locks the logs where they were placed from, then writes the placed events
 * (none stored yet) with their log indexes, the new tree tiles and the grown logs, and the
 * notification to tails. It fails whole (SQLSTATE 40001,
 * `tracker.log_moved`) unless every event was inserted, every tile held exactly the hashes
 * before the new ones and every log was as placed from: else a log would have a hole, hashes
 * at the wrong index or a frontier that is not its tree's.
 */
async function writeEvents(
  q: Sql | postgres.TransactionSql,
  region: string,
  batches: readonly IngestBatch[],
  fresh: readonly { k: number; line: number; event: AtEvent }[],
  { indexes, tiles, logs }: LogAppend,
): Promise<void> {
  // Every write below waits for `locked`: the log rows are locked first, in account order, as
  // placeInLogs locks them. A write that inserted its events before taking the log's lock
  // could deadlock with a process holding it (each waiting on the other's uncommitted index
  // entry at the same log index: measured with two tracker processes on one region), and one
  // that finds a log moved writes nothing.
  const grownLogs = logs.account.length;
  // Postgres reads each event from its body (ordinality counts from 1). The bodies travel
  // as one JSON array in one text parameter: as a text[] each body's every quote would be
  // escaped by the client first (about a tenth of the tracker's CPU in bench:delivery). The
  // lines are materialised so that the bodies are parsed once, whatever side of the join
  // the planner puts them on.
  await q`
      with locked as (
        select count(*)::int as n from (
          select 1 from tracker.logs g
            join unnest(${logs.account}::text[], ${logs.was}::bigint[], ${logs.wasFrontier}::text[])
                 as u(a, was, wf) on g.account_id = u.a
           where g.region = ${region} and g.size = u.was and g.frontier = decode(u.wf, 'hex')
           order by g.account_id
             for update of g) as l
      ), line as materialized (
        select b.k, (${batches.map((b) => b.host)}::text[])[b.k::int] as host, l.n, l.value
          from jsonb_array_elements(${bodiesArray(batches)}::text::jsonb) with ordinality as b(body, k)
         cross join lateral jsonb_array_elements(b.body->'lines') with ordinality as l(value, n)
      ), input as (
        select l.value->'meta' as e, p.log_index, l.host
          from line l
          join unnest(${fresh.map((e) => e.k + 1)}::int[], ${fresh.map((e) => e.line + 1)}::int[],
                      ${fresh.map((e) => indexes.get(e.event.id) ?? null)}::bigint[])
               with ordinality as p(k, line, log_index, o)
            on p.k = l.k and p.line = l.n
         where (select n from locked) = ${grownLogs}
         order by p.o
      ), ins as (
        insert into tracker.events (id, account_id, region, event_time, host, action, outcome,
                                    severity, initiator_id, initiator_name, target_id, target_name,
                                    message, payload, log_index)
        select (e->>'id')::uuid, substr(split_part(e->'target'->>'id', ':', 7), 3), ${region},
               (left(e->>'eventTime', 22) || '0Z')::timestamptz, host, e->>'action',
               e->>'outcome', e->>'severity', e->'initiator'->>'id', e->'initiator'->>'name',
               e->'target'->>'id', e->'target'->>'name', e->>'message', e,
               log_index
          from input
        on conflict (id) do nothing
        returning id, seq, account_id
      ), tile as (
        select a, l, i, o, decode(h, 'hex') as h
          from unnest(${tiles.account}::text[], ${tiles.level}::smallint[], ${tiles.idx}::bigint[],
                      ${tiles.offset}::int[], ${tiles.hashes}::text[]) as t(a, l, i, o, h)
         where (select n from locked) = ${grownLogs}
      ), tiles as (
        insert into tracker.log_tiles as t (account_id, region, level, idx, hashes)
        select a, ${region}, l, i, h from tile
        on conflict (account_id, region, level, idx) do update set hashes = t.hashes || excluded.hashes
        returning t.account_id, t.level, t.idx, octet_length(t.hashes) as length
      ), grown as (
        update tracker.logs g set size = u.size, frontier = decode(u.f, 'hex')
          from unnest(${logs.account}::text[], ${logs.was}::bigint[], ${logs.wasFrontier}::text[],
                      ${logs.size}::bigint[], ${logs.frontier}::text[]) as u(a, was, wf, size, f)
         where g.account_id = u.a and g.region = ${region}
           and g.size = u.was and g.frontier = decode(u.wf, 'hex')
           and (select n from locked) = ${grownLogs}
        returning 1
      ), note as (
        select pg_notify(${TRACKER_CHANNEL}, json_build_object(
                 'r', ${region}::text, 'lo', min(seq), 'hi', max(seq),
                 'a', case when count(distinct account_id) <= ${MAX_NOTIFIED_ACCOUNTS}
                           then json_agg(distinct account_id) end)::text)
          from ins having count(*) > 0
      )
      -- notified is selected so that the planner keeps it, and with it the notification.
      select notified,
             case when inserted <> ${fresh.length} or tiles <> ${tiles.idx.length}
                       or grown <> ${grownLogs}
                  then tracker.log_moved(format(
                         'stored %s of %s new events, %s of %s tree tiles and %s of %s logs where they were placed; rolled back',
                         inserted, ${fresh.length}::int, tiles, ${tiles.idx.length}::int,
                         grown, ${grownLogs}::int)) end
        from (select (select count(*)::int from ins) as inserted,
                     (select count(*) from note) as notified,
                     (select count(*)::int from tiles join tile on (a, l, i) = (account_id, level, idx)
                       where length = (o * 32 + octet_length(h))) as tiles,
                     (select count(*)::int from grown) as grown) as c`;
}

interface StoredRow {
  id: string;
  seq: number | string | bigint;
  account_id: string;
  region: string;
  event_time: Date;
  host: string;
  severity: string;
  message: string;
  payload: TrackerLine["event"];
  log_index: number | string | bigint | null;
}

const COLUMNS =
  "id, seq, account_id, region, event_time, host, severity, message, payload, log_index";

export function toLine(r: StoredRow): TrackerLine {
  return {
    _id: r.id,
    _ts: r.event_time.getTime(),
    _line: r.message,
    _app: "container-registry",
    _host: r.host,
    level: levelOf(r.severity),
    _account: r.account_id,
    _region: r.region,
    event: r.payload,
    _logIndex: r.log_index === null ? null : Number(r.log_index),
  };
}

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

function filterConditions(sql: Sql, region: string, f: ParsedEventFilter) {
  const conds = [sql`account_id = ${f.account}`, sql`region = ${region}`];
  if (f.action?.length) conds.push(sql`action = any(${f.action})`);
  if (f.outcome?.length) conds.push(sql`outcome = any(${f.outcome})`);
  if (f.severity?.length) conds.push(sql`severity = any(${f.severity})`);
  if (f.initiator) {
    conds.push(sql`(initiator_id = ${f.initiator} or initiator_name = ${f.initiator})`);
  }
  if (f.target) {
    if (f.target.endsWith("*")) {
      conds.push(sql`target_name like ${`${likeEscape(f.target.slice(0, -1))}%`}`);
    } else conds.push(sql`(target_id = ${f.target} or target_name = ${f.target})`);
  }
  if (f.query) {
    const pattern = `%${likeEscape(f.query)}%`;
    conds.push(sql`(message ilike ${pattern} or payload::text ilike ${pattern})`);
  }
  return conds;
}

const and = (sql: Sql, conds: postgres.PendingQuery<postgres.Row[]>[]) =>
  conds.reduce((acc, c) => sql`${acc} and ${c}`);

export class BadCursorError extends Error {
  override readonly name = "BadCursorError";
}

function encodeCursor(line: TrackerLine): string {
  return Buffer.from(JSON.stringify([line._ts, line._id])).toString("base64url");
}

function decodeCursor(text: string): [number, string] {
  try {
    const v = JSON.parse(Buffer.from(text, "base64url").toString("utf8")) as unknown;
    if (
      Array.isArray(v) &&
      v.length === 2 &&
      Number.isSafeInteger(v[0]) &&
      typeof v[1] === "string" &&
      /^[0-9a-f-]{36}$/i.test(v[1])
    ) {
      return [v[0] as number, v[1]];
    }
  } catch {}
  throw new BadCursorError("pagination_id is not one this tracker issued");
}

/** One page of an account domain's events, newest first, keyset-paginated. */
export async function exportEvents(
  sql: Sql,
  region: string,
  q: ParsedExportQuery,
): Promise<{ lines: TrackerLine[]; pagination_id: string | null }> {
  const conds = filterConditions(sql, region, q);
  if (q.from !== undefined) conds.push(sql`event_time >= ${new Date(q.from)}`);
  if (q.to !== undefined) conds.push(sql`event_time <= ${new Date(q.to)}`);
  if (q.pagination_id) {
    const [ts, id] = decodeCursor(q.pagination_id);
    conds.push(sql`(event_time, id) < (${new Date(ts)}, ${id}::uuid)`);
  }
  const rows = await sql<StoredRow[]>`
    select ${sql.unsafe(COLUMNS)} from tracker.events
     where ${and(sql, conds)}
     order by event_time desc, id desc
     limit ${q.size + 1}`;
  const lines = rows.slice(0, q.size).map(toLine);
  const more = rows.length > q.size;
  return { lines, pagination_id: more ? encodeCursor(lines[lines.length - 1]!) : null };
}

export interface TailRow {
  seq: number;
  line: TrackerLine;
}

/** Rows of one region and some accounts in a seq range (what a notification announced). */
export async function rowsInRange(
  sql: Sql,
  region: string,
  accounts: string[],
  lo: number,
  hi: number,
): Promise<TailRow[]> {
  const rows = await sql<StoredRow[]>`
    select ${sql.unsafe(COLUMNS)} from tracker.events
     where seq between ${lo} and ${hi} and region = ${region} and account_id = any(${accounts})
     order by seq`;
  return rows.map((r) => ({ seq: Number(r.seq), line: toLine(r) }));
}

/**
 * How long before the last row a resuming tail saw its rows are read again. Seq is taken at
 * insert, so two batches ingested at once can commit out of seq order: a row with a lower seq
 * than the last one sent may commit after it. Rows received in this window are sent again
 * (readers drop the event ids they already have); no transaction is open this long.
 */
export const RESUME_OVERLAP_SECONDS = 30;

/**
 * What a reconnecting tail missed after the id it last saw: one page in seq order. */
export async function rowsAfter(
  sql: Sql,
  region: string,
  account: string,
  afterSeq: number,
  limit: number,
): Promise<TailRow[]> {
  const rows = await sql<StoredRow[]>`
    select ${sql.unsafe(COLUMNS)} from tracker.events
     where seq > ${afterSeq} and region = ${region} and account_id = ${account}
     order by seq limit ${limit}`;
  return rows.map((r) => ({ seq: Number(r.seq), line: toLine(r) }));
}

/** The rows at or before `lastSeq` received in the overlap window before it. */
export async function rowsOverlapping(
  sql: Sql,
  region: string,
  account: string,
  lastSeq: number,
  limit: number,
): Promise<TailRow[]> {
  const rows = await sql<StoredRow[]>`
    select ${sql.unsafe(COLUMNS)} from tracker.events
     where seq <= ${lastSeq} and region = ${region} and account_id = ${account}
       and received_at >= (select received_at from tracker.events where seq = ${lastSeq})
                          - make_interval(secs => ${RESUME_OVERLAP_SECONDS})
     order by seq limit ${limit}`;
  return rows.map((r) => ({ seq: Number(r.seq), line: toLine(r) }));
}
