import type { Sql } from "@berth/db";
import { until } from "./processes";

/** Every id ever inserted into the outbox, kept by a trigger of the fault run (not of the app). */
export async function installLedger(sql: Sql): Promise<void> {
  await sql.unsafe(`
    create table if not exists fault_ledger (id uuid primary key, at timestamptz not null default now());
    create or replace function fault_ledger_add() returns trigger language plpgsql as $$
      begin insert into fault_ledger (id) values (new.id) on conflict do nothing; return new; end $$;
    drop trigger if exists fault_ledger on outbox;
    create trigger fault_ledger after insert on outbox for each row execute function fault_ledger_add();`);
}

export interface DeliveryLedger {
  /** Events the outbox received. */
  enqueued: number;
  /** Events the tracker holds. */
  stored: number;
  /** Enqueued events the tracker does not hold. */
  lost: number;
  /** Tracker rows beyond one per event id (the id is the key: must be 0). */
  duplicated: number;
  /** Tracker events that never went through the outbox. */
  unknown: number;
  /** Outbox rows still pending or dead. */
  pending: number;
  dead: number;
}

export async function deliveryLedger(sql: Sql): Promise<DeliveryLedger> {
  const [row] = (await sql`
    select (select count(*) from fault_ledger)::int as enqueued,
           (select count(*) from tracker.events)::int as stored,
           (select count(*) - count(distinct id) from tracker.events)::int as duplicated,
           (select count(*) from fault_ledger l
              where not exists (select 1 from tracker.events e where e.id = l.id))::int as lost,
           (select count(*) from tracker.events e
              where not exists (select 1 from fault_ledger l where l.id = e.id))::int as unknown,
           (select count(*) from outbox where status = 'pending')::int as pending,
           (select count(*) from outbox where status = 'dead')::int as dead`) as unknown as [
    DeliveryLedger,
  ];
  return row;
}

/**
 * The ledger once every enqueued event is in the tracker and none is pending: polled every
 * half second for at most `timeoutMs`, failing with `what` in its message.
 */
export async function drainedLedger(
  sql: Sql,
  what: string,
  timeoutMs: number,
): Promise<DeliveryLedger> {
  let last: DeliveryLedger | undefined;
  try {
    return await until(
      what,
      async () => {
        last = await deliveryLedger(sql);
        return last.pending === 0 && last.lost === 0 ? last : undefined;
      },
      timeoutMs,
      500,
    );
  } catch (error) {
    // Say whether the missing events wait, died (and why) or vanished.
    const dead = await sql<{ reason: string | null; n: number }[]>`
      select last_error as reason, count(*)::int as n from outbox where status = 'dead'
      group by 1 order by 2 desc limit 3`.catch(() => []);
    throw new Error(
      `${(error as Error).message}; ledger ${JSON.stringify(last)}${dead.length ? `; dead: ${dead.map((d) => `${d.n} (${d.reason})`).join(", ")}` : ""}`,
    );
  }
}
