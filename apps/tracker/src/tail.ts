import type { ParsedEventFilter, TrackerLine } from "@berth/tracker-client";
import type { Logger } from "pino";
import type postgres from "postgres";
import {
  type BatchNote,
  rowsAfter,
  rowsInRange,
  rowsOverlapping,
  type TailRow,
  TRACKER_CHANNEL,
} from "./store";

/** Whether a line passes a tail's filters (the same filters the export API applies in SQL). */
export function matchesFilter(line: TrackerLine, f: ParsedEventFilter): boolean {
  const e = line.event;
  if (f.action?.length && !f.action.includes(e.action)) return false;
  if (f.outcome?.length && !f.outcome.includes(e.outcome)) return false;
  if (f.severity?.length && !f.severity.includes(e.severity)) return false;
  if (f.initiator && f.initiator !== e.initiator.id && f.initiator !== e.initiator.name) {
    return false;
  }
  if (f.target) {
    const ok = f.target.endsWith("*")
      ? e.target.name.startsWith(f.target.slice(0, -1))
      : f.target === e.target.id || f.target === e.target.name;
    if (!ok) return false;
  }
  if (f.query) {
    const q = f.query.toLowerCase();
    if (!e.message.toLowerCase().includes(q) && !JSON.stringify(e).toLowerCase().includes(q)) {
      return false;
    }
  }
  return true;
}

interface Subscriber {
  region: string;
  filter: ParsedEventFilter;
  send(rows: TailRow[]): void;
  /** Ids recently sent: a notification range may overlap another's. */
  recent: Set<string>;
  /** While a resume reads what was missed, live rows wait here, so rows go out in seq order. */
  held?: TailRow[];
}

const RECENT_IDS = 10_000;
/** Rows a resume reads per query, and at most in all (a tail away longer starts afresh). */
const RESUME_PAGE = 1000;
const RESUME_MAX = 20_000;

/** Open tails per account on one tracker process, unless the process says otherwise. */
export const DEFAULT_MAX_TAILS_PER_ACCOUNT = 10;

/** Refused: the account already has as many open tails as a process allows. */
export class TailLimitError extends Error {
  override readonly name = "TailLimitError";
  constructor(readonly limit: number) {
    super(`too many open tails for this account (at most ${limit}): close one first`);
  }
}

/**
 * Feeds live tails from Postgres notifications, so a tail on any tracker process sees what
 * any other process ingested. One LISTEN per process; per notification, one query per
 * (region, account) that has subscribers here.
 */
export class TailHub {
  private readonly subs = new Set<Subscriber>();
  private unlisten?: () => Promise<void>;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly sql: postgres.Sql,
    private readonly log: Logger,
    private readonly maxPerAccount = DEFAULT_MAX_TAILS_PER_ACCOUNT,
  ) {}

  get size(): number {
    return this.subs.size;
  }

  async start(): Promise<void> {
    const listener = await this.sql.listen(TRACKER_CHANNEL, (payload) => {
      // Notifications are handled one after another so each tail sees seq order.
      this.chain = this.chain
        .then(() => this.onNote(payload))
        .catch((error) => this.log.error({ err: error }, "tail notification failed"));
    });
    this.unlisten = () => listener.unlisten();
  }

  async stop(): Promise<void> {
    this.subs.clear();
    await this.unlisten?.().catch(() => {});
    await this.chain;
  }

  /** Open tails of an account on this process. */
  openFor(account: string): number {
    let n = 0;
    for (const s of this.subs) if (s.filter.account === account) n++;
    return n;
  }

  /**
   * A live tail; a TailLimitError past the account's limit. With `resumeAfter` (the id of the
   * last row a reconnecting client saw), what it missed is sent first, in seq order.
   */
  async subscribe(
    region: string,
    filter: ParsedEventFilter,
    send: (rows: TailRow[]) => void,
    resumeAfter?: number,
  ) {
    if (this.openFor(filter.account) >= this.maxPerAccount) {
      throw new TailLimitError(this.maxPerAccount);
    }
    const sub: Subscriber = {
      region,
      filter,
      send,
      recent: new Set(),
      ...(resumeAfter !== undefined ? { held: [] } : {}),
    };
    // Subscribed before reading what was missed: a row committed meanwhile is held, not lost.
    this.subs.add(sub);
    const close = () => {
      this.subs.delete(sub);
    };
    if (resumeAfter !== undefined) {
      try {
        await this.resume(sub, resumeAfter);
      } catch (error) {
        close();
        throw error;
      }
    }
    return { close };
  }

  private async resume(sub: Subscriber, lastSeq: number): Promise<void> {
    const { region } = sub;
    const account = sub.filter.account;
    const missed = await rowsOverlapping(this.sql, region, account, lastSeq, RESUME_PAGE);
    let after = lastSeq;
    for (let read = 0; read < RESUME_MAX; read += RESUME_PAGE) {
      const page = await rowsAfter(this.sql, region, account, after, RESUME_PAGE);
      missed.push(...page);
      if (page.length < RESUME_PAGE) break;
      after = page.at(-1)!.seq;
    }
    const held = sub.held ?? [];
    delete sub.held;
    const rows = [...missed, ...held].sort((a, b) => a.seq - b.seq);
    this.deliver(sub, rows);
  }

  private deliver(sub: Subscriber, rows: TailRow[]): void {
    if (sub.held) {
      sub.held.push(...rows);
      return;
    }
    const fresh = rows.filter((r) => {
      if (sub.recent.has(r.line._id) || !matchesFilter(r.line, sub.filter)) return false;
      sub.recent.add(r.line._id);
      return true;
    });
    if (sub.recent.size > RECENT_IDS) {
      const drop = sub.recent.size - RECENT_IDS / 2;
      let i = 0;
      for (const id of sub.recent) {
        if (i++ >= drop) break;
        sub.recent.delete(id);
      }
    }
    if (fresh.length > 0) sub.send(fresh);
  }

  private async onNote(payload: string): Promise<void> {
    if (this.subs.size === 0) return;
    const note = JSON.parse(payload) as BatchNote;
    const wanted = new Set<string>();
    for (const s of this.subs) {
      if (s.region === note.r && (note.a === null || note.a.includes(s.filter.account))) {
        wanted.add(s.filter.account);
      }
    }
    if (wanted.size === 0) return;
    const rows = await rowsInRange(this.sql, note.r, [...wanted], note.lo, note.hi);
    for (const s of this.subs) {
      if (s.region !== note.r) continue;
      const mine = rows.filter((r) => r.line._account === s.filter.account);
      if (mine.length > 0) this.deliver(s, mine);
    }
  }
}
