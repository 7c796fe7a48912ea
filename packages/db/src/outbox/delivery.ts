import type { Sql } from "../client";

/** A claimed event in the form delivery needs: the payload stays JSON text end to end. */
export interface DeliveryRow {
  id: string;
  seq: number;
  /** The event's region (of the resource). */
  region: string;
  /** Attempts including this one. */
  attempts: number;
  createdAt: Date;
  /** The event as JSON text, spliced into the request body without a parse/serialise trip. */
  payload: string;
  message: string;
  severity: string;
  eventTime: string;
}

/**
 * Lease up to `limit` due events to `workerId` for `leaseMs`. SKIP LOCKED lets several
 * workers claim concurrently without ever receiving the same row; an expired lease (a
 * crashed worker) makes the row claimable again. Attempts count claims, so an event that
 * crashes its worker every time still reaches the dead letter eventually.
 *
 * It returns the payload as text plus the few fields a sender needs, so the worker never
 * parses and re-serialises events it only forwards. It takes the postgres.js client rather
 * than drizzle: its tagged queries are prepared once per connection, where at a thousand
 * small batches a second parsing and planning each statement again would cost more than
 * running it.
 */
export async function claimForDelivery(
  pg: Sql,
  opts: { limit: number; leaseMs: number; workerId: string },
): Promise<DeliveryRow[]> {
  const rows = await pg<
    {
      id: string;
      seq: string | number | bigint;
      region: string;
      attempts: number;
      created_at: Date;
      payload: string;
      message: string | null;
      severity: string | null;
      event_time: string | null;
    }[]
  >`
    update outbox o
       set leased_until = now() + make_interval(secs => ${opts.leaseMs / 1000}::float8),
           leased_by = ${opts.workerId}::text,
           attempts = o.attempts + 1
      from (select id from outbox
             where status = 'pending'
               and available_at <= now()
               and (leased_until is null or leased_until < now())
             order by available_at, seq
             limit ${opts.limit}::int
             for update skip locked) c
     where o.id = c.id
    returning o.id, o.seq, o.region, o.attempts, o.created_at, o.payload::text as payload,
              o.payload->>'message' as message, o.payload->>'severity' as severity,
              o.payload->>'eventTime' as event_time`;
  return rows
    .map((r) => ({
      id: r.id,
      seq: Number(r.seq),
      region: r.region,
      attempts: r.attempts,
      createdAt: new Date(r.created_at),
      payload: r.payload,
      message: r.message ?? "",
      severity: r.severity ?? "normal",
      eventTime: r.event_time ?? "",
    }))
    .sort((a, b) => a.seq - b.seq);
}

export interface Settlement {
  /** Delivered (or already held by the receiver): removed. */
  delivered?: string[];
  /** Failed transiently: due again after their delay. */
  retries?: { id: string; delayMs: number; error: string }[];
  /** Refused for good: parked with the reason. */
  dead?: { id: string; reason: string }[];
  /** Not sent (shutdown): lease given back, attempt not counted. */
  released?: string[];
}

// UUIDs (from the database itself) need no quoting inside an array literal.
const uuidArray = (ids: string[]) => `{${ids.join(",")}}`;

/**
 * Record the outcome of a delivered batch in one statement (one round trip, one commit):
 * the worker settles every claimed batch this way. Each id must appear in one list only.
 *
 * Why delivered rows are deleted rather than partitioned away: the outbox holds only the
 * backlog, and a row lives for as long as its delivery takes. Deleting it in the statement
 * that settles its batch costs one primary-key probe, and its space comes back through HOT
 * pruning and vacuum (tuned per table in migration 0001), so the table stays the size of the
 * backlog plus the dead rows between two vacuums, and claims walk the small partial pending
 * index rather than the heap. Partitions pay off when rows must be kept for a while; here
 * they would add routing on every insert, a primary key that must include the partition key,
 * a job to rotate them, and a partition could be dropped only once every row in it had been
 * delivered: one event being retried or parked in the dead letter would pin it.
 */
export async function settleDeliveries(pg: Sql, s: Settlement): Promise<void> {
  const delivered = s.delivered ?? [];
  const retries = (s.retries ?? []).map((r) => ({
    id: r.id,
    delay_ms: Math.max(0, Math.round(r.delayMs)),
    error: r.error.slice(0, 2000),
  }));
  const dead = (s.dead ?? []).map((d) => ({ id: d.id, reason: d.reason.slice(0, 2000) }));
  const released = s.released ?? [];
  if (delivered.length + retries.length + dead.length + released.length === 0) return;
  if (retries.length + dead.length + released.length === 0) {
    // The usual case, and a plain delete costs a third of the combined statement.
    await pg`delete from outbox where id = any(${uuidArray(delivered)}::text::uuid[])`;
    return;
  }
  // Deleting keeps the table at the size of the backlog (see above). Every CTE runs
  // even when its list is empty; an empty array matches nothing and costs an index probe.
  // Every parameter goes over as text and is cast in SQL, so the statement text (and its
  // prepared plan) is the same whatever the lists hold.
  await pg`
    with delivered as (
      delete from outbox where id = any(${uuidArray(delivered)}::text::uuid[])
    ), retried as (
      update outbox o
         set available_at = now() + make_interval(secs => r.delay_ms / 1000.0),
             leased_until = null, leased_by = null, last_error = r.error
        from jsonb_to_recordset(${JSON.stringify(retries)}::text::jsonb)
          as r(id uuid, delay_ms int, error text)
       where o.id = r.id and o.status = 'pending'
    ), dead as (
      update outbox o
         set status = 'dead', dead_at = now(), leased_until = null, leased_by = null,
             last_error = r.reason
        from jsonb_to_recordset(${JSON.stringify(dead)}::text::jsonb) as r(id uuid, reason text)
       where o.id = r.id
    ), released as (
      update outbox
         set leased_until = null, leased_by = null, attempts = greatest(attempts - 1, 0)
       where id = any(${uuidArray(released)}::text::uuid[]) and status = 'pending'
    )
    select 1`;
}
