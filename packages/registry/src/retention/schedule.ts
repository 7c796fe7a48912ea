import { type Db, namespaces } from "@berth/db";
import { eq, sql } from "drizzle-orm";
import { notFound } from "../errors";
import { serviceContext } from "../lifecycle/service";
import type { NamespaceRow } from "../namespaces/lookup";
import type { BlobStore } from "../storage/blob-store";
import { policyData, storedPolicy } from "./policy";
import { beginRun, type RetentionRunResult, removePlanned } from "./run";

/** A namespace's policy runs at most once per this long by default (daily). */
export const DEFAULT_RETENTION_INTERVAL_MS = 86_400_000;

export interface ScheduledRetentionOptions {
  /** Least time between two runs of one namespace's policy. */
  intervalMs?: number;
  now?: () => Date;
  /** Most namespaces run by one call (the rest wait for the next). */
  maxRuns?: number;
  /** Days what a run removes stays in the trash (BERTH_TRASH_DAYS; default 30). */
  trashDays?: number;
}

interface Claimed {
  namespace: NamespaceRow;
  account: { id: string; name: string };
}

/**
 * Claim one namespace whose policy is due: last run (by anyone) at least `intervalMs` ago.
 * One statement: the row is locked (others skip it) and marked as run, so however many
 * servers check at once, each due policy is claimed by exactly one of them.
 */
async function claimDue(db: Db, now: Date, intervalMs: number): Promise<Claimed | null> {
  const due = new Date(now.getTime() - intervalMs).toISOString();
  const rows = await db.execute<{
    id: string;
    account_id: string;
    account_name: string;
  }>(sql`
    with claimed as (
      update retention_policies set last_run_at = ${now.toISOString()}::timestamptz
       where namespace_id = (
         select namespace_id from retention_policies
          where last_run_at is null or last_run_at <= ${due}::timestamptz
          order by last_run_at nulls first
          limit 1 for update skip locked)
         and (last_run_at is null or last_run_at <= ${due}::timestamptz)
      returning namespace_id)
    select n.id, n.account_id, a.name as account_name
      from claimed c join namespaces n on n.id = c.namespace_id
      join accounts a on a.id = n.account_id`);
  const row = rows[0];
  if (!row) return null;
  const [namespace] = await db.select().from(namespaces).where(eq(namespaces.id, row.id));
  if (!namespace) return null;
  return { namespace, account: { id: row.account_id, name: row.account_name } };
}

export interface ScheduledRetentionReport {
  runs: RetentionRunResult[];
  /** Runs that could not start (their failure event was written). */
  failures: { namespace: string; region: string; message: string }[];
}

/**
 * The scheduled part: run every policy that is due, each claimed by this process alone
 * (see claimDue). The run's event and each removal's name the service as initiator.
 */
export async function runDueRetention(
  db: Db,
  store: BlobStore,
  opts: ScheduledRetentionOptions = {},
): Promise<ScheduledRetentionReport> {
  const intervalMs = opts.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS;
  const report: ScheduledRetentionReport = { runs: [], failures: [] };
  for (let i = 0; i < (opts.maxRuns ?? 100); i++) {
    const claimed = await claimDue(db, opts.now ? opts.now() : new Date(), intervalMs);
    if (!claimed) break;
    const { namespace, account } = claimed;
    const ctx = {
      ...serviceContext(db, store, account, namespace.region, {
        ...(opts.now ? { now: opts.now } : {}),
      }),
      ...(opts.trashDays !== undefined ? { trashDays: opts.trashDays } : {}),
    };
    try {
      const run = await beginRun(
        ctx,
        "schedule",
        () => [{ target: { name: namespace.name }, messageDetail: namespace.name }],
        async (tx) => {
          const policy = await storedPolicy(tx, namespace.id);
          if (!policy) throw notFound(`namespace ${namespace.name} has no retention policy`);
          return { namespace, policy: policyData(policy), given: false };
        },
      );
      report.runs.push(await removePlanned(ctx, run, "schedule"));
    } catch (error) {
      report.failures.push({
        namespace: namespace.name,
        region: namespace.region,
        message: (error as Error).message,
      });
    }
  }
  return report;
}
