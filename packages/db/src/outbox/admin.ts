import { and, asc, eq, inArray, sql } from "drizzle-orm";
import type { DbOrTx } from "../client";
import { outbox } from "../schema/outbox";
import { type DeadEvent, deadEventOf, deadReasons, notifyRedriven, redriven } from "./ledger";

/** Park events in the dead-letter state with their reason. */
export async function deadLetter(
  db: DbOrTx,
  dead: { id: string; reason: string }[],
): Promise<void> {
  if (dead.length === 0) return;
  await db.execute(sql`
    update outbox o
       set status = 'dead', dead_at = now(), leased_until = null, leased_by = null,
           last_error = r.reason
      from jsonb_to_recordset(${deadReasons(dead)}::jsonb) as r(id uuid, reason text)
     where o.id = r.id`);
}

/**
 * Send dead events again: back to pending with a fresh attempt budget. Scoped by ids
 * and/or account; with neither, every dead event is redriven.
 */
export async function redrive(
  db: DbOrTx,
  opts: { ids?: string[]; accountId?: string } = {},
): Promise<number> {
  const conds = [eq(outbox.status, "dead")];
  if (opts.ids) conds.push(inArray(outbox.id, opts.ids));
  if (opts.accountId) conds.push(eq(outbox.accountId, opts.accountId));
  const rows = await db
    .update(outbox)
    .set(redriven())
    .where(and(...conds))
    .returning({ id: outbox.id });
  return notifyRedriven(db, rows);
}

export interface OutboxStats {
  pending: number;
  dead: number;
  /** Age in ms of the oldest pending event (0 when none): the delivery lag. */
  oldestPendingAgeMs: number;
}

export async function outboxStats(
  db: DbOrTx,
  opts: { accountId?: string } = {},
): Promise<OutboxStats> {
  const scope = opts.accountId ? sql`where account_id = ${opts.accountId}` : sql``;
  const rows = await db.execute<{ pending: string; dead: string; age_ms: string | null }>(sql`
    select count(*) filter (where status = 'pending') as pending,
           count(*) filter (where status = 'dead') as dead,
           extract(epoch from (now() - min(created_at) filter (where status = 'pending'))) * 1000 as age_ms
      from outbox ${scope}`);
  const r = rows[0];
  return {
    pending: Number(r?.pending ?? 0),
    dead: Number(r?.dead ?? 0),
    oldestPendingAgeMs: Math.max(0, Math.round(Number(r?.age_ms ?? 0))),
  };
}

export type { DeadEvent } from "./ledger";

export async function listDead(
  db: DbOrTx,
  opts: { accountId?: string; limit?: number } = {},
): Promise<DeadEvent[]> {
  const conds = [eq(outbox.status, "dead")];
  if (opts.accountId) conds.push(eq(outbox.accountId, opts.accountId));
  const rows = await db
    .select()
    .from(outbox)
    .where(and(...conds))
    .orderBy(asc(outbox.deadAt))
    .limit(opts.limit ?? 100);
  return rows.map((r) => deadEventOf(r.id, r));
}
