import type { Logger } from "pino";
import type postgres from "postgres";

/** Notified after each ingested batch commits: `{r, lo, hi, a}` (region, seq range, accounts). */
export const TRACKER_CHANNEL = "berth_tracker_events";
/** Beyond this many accounts in one notification it says "any account" (`a: null`). */
export const MAX_NOTIFIED_ACCOUNTS = 20;
/** A failed notification (the database unreachable) is sent again after this long. */
const RETRY_MS = 1000;

export interface BatchNote {
  r: string;
  lo: number;
  hi: number;
  a: string[] | null;
}

/**
 * Tells the tails (every tracker process's TailHub) about committed batches. Not part of the
 * batch's transaction: a transaction that notifies holds Postgres's one notification lock from
 * its commit's start until its WAL flush ends, so concurrent ingestions would wait for each
 * other's flush. Here the notification is its own statement after the commit, committed
 * without waiting for the flush (it changes no data), and one is in flight per process: the
 * batches that commit meanwhile go out together, with the overlapping or adjacent ranges of a
 * region merged. A notification that never goes out (the process dies after the commit) is
 * made up for by the hubs' sweep (tail.ts), which finds committed rows no notification covered.
 */
export class TailNotifier {
  private pending: BatchNote[] = [];
  private sending?: Promise<void>;
  private retry?: NodeJS.Timeout;

  constructor(
    private readonly sql: postgres.Sql,
    private readonly log: Logger,
  ) {}

  notify(note: BatchNote): void {
    this.pending.push(note);
    this.send();
  }

  /** Sends what is pending (shutdown). */
  async flush(): Promise<void> {
    clearTimeout(this.retry);
    this.retry = undefined;
    await this.sending;
    this.send();
    await this.sending;
  }

  private send(): void {
    if (this.sending || this.retry || this.pending.length === 0) return;
    const notes = mergeNotes(this.pending);
    this.pending = [];
    this.sending = this.sql`
      select pg_notify(${TRACKER_CHANNEL}, n), set_config('synchronous_commit', 'off', true)
        from unnest(${notes.map((n) => JSON.stringify(n))}::text[]) as n`.then(
      () => {
        this.sending = undefined;
        this.send();
      },
      (error: unknown) => {
        this.sending = undefined;
        this.pending.push(...notes);
        this.log.warn({ err: error }, "tail notification failed; sending it again");
        this.retry = setTimeout(() => {
          this.retry = undefined;
          this.send();
        }, RETRY_MS);
        this.retry.unref();
      },
    );
  }
}

/** Per region, overlapping or adjacent ranges as one (their accounts together). */
export function mergeNotes(notes: readonly BatchNote[]): BatchNote[] {
  const sorted = [...notes].sort((x, y) => (x.r < y.r ? -1 : x.r > y.r ? 1 : x.lo - y.lo));
  const out: BatchNote[] = [];
  for (const n of sorted) {
    const last = out.at(-1);
    if (last && last.r === n.r && n.lo <= last.hi + 1) {
      last.hi = Math.max(last.hi, n.hi);
      last.a = unionOf(last.a, n.a);
    } else out.push({ ...n, a: n.a && [...n.a] });
  }
  return out;
}

function unionOf(a: string[] | null, b: string[] | null): string[] | null {
  if (a === null || b === null) return null;
  const all = [...new Set([...a, ...b])];
  return all.length > MAX_NOTIFIED_ACCOUNTS ? null : all;
}
