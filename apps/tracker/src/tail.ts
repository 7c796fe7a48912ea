import type { ParsedEventFilter, TrackerLine } from "@berth/tracker-client";
import type { Logger } from "pino";
import type postgres from "postgres";
import { type BatchNote, TRACKER_CHANNEL } from "./notify";
import {
  RESUME_OVERLAP_SECONDS,
  rowsAfter,
  rowsBySeq,
  rowsInRange,
  rowsOverlapping,
  seqsInRange,
  type TailRow,
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
  /** The newest seq noted when it opened: the sweep gives it only rows numbered after it. */
  since: number;
}

/** What a notification said was committed: a seq range of a region, for some accounts. */
interface Covered {
  lo: number;
  hi: number;
  accounts: Set<string> | null;
}

/** How often the hub notes the newest seq, and sweeps what became old enough. */
const SWEEP_EVERY_MS = 1000;
/**
 * How old a seq range is when the sweep looks in it for rows no notification announced: by
 * then every transaction that drew a seq in it has ended (none is open this long, as the
 * resume's overlap assumes), and its notification had that long to arrive.
 */
export const SWEEP_LAG_MS = RESUME_OVERLAP_SECONDS * 1000;

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
 * any other process ingested. One LISTEN per process; per notification, one query for the
 * accounts of the region that have subscribers here.
 *
 * Notifications are sent after the batch's commit (notify.ts), so one can be lost: its process
 * died in between. The hub therefore notes the newest seq every second, and once the range of
 * seqs between two such marks is SWEEP_LAG_MS old, it reads (if tails are open) the seqs of
 * their accounts' rows in it; a row that no notification covered is read and sent then, late
 * but not lost.
 */
export class TailHub {
  private readonly subs = new Set<Subscriber>();
  private unlisten?: () => Promise<void>;
  private chain: Promise<void> = Promise.resolve();
  /** Per region, the ranges notified since the oldest mark. */
  private readonly covered = new Map<string, Covered[]>();
  /** The newest seq, noted every SWEEP_EVERY_MS; the ranges between are swept when old enough. */
  private marks: { at: number; seq: number }[] = [];
  private sweeper?: NodeJS.Timeout;

  constructor(
    private readonly sql: postgres.Sql,
    private readonly log: Logger,
    private readonly maxPerAccount = DEFAULT_MAX_TAILS_PER_ACCOUNT,
    private readonly sweepLagMs = SWEEP_LAG_MS,
  ) {}

  get size(): number {
    return this.subs.size;
  }

  async start(): Promise<void> {
    const listener = await this.sql.listen(TRACKER_CHANNEL, (payload) => {
      // Notifications are handled one after another so each tail sees seq order.
      this.serially(() => this.onNote(payload), "tail notification failed");
    });
    this.unlisten = () => listener.unlisten();
    await this.mark();
    this.sweeper = setInterval(
      () => this.serially(() => this.sweep(), "tail sweep failed"),
      Math.min(SWEEP_EVERY_MS, this.sweepLagMs),
    );
    this.sweeper.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.sweeper);
    this.subs.clear();
    await this.unlisten?.().catch(() => {});
    await this.chain;
  }

  private serially(work: () => Promise<void>, failure: string): void {
    this.chain = this.chain.then(work).catch((error) => this.log.error({ err: error }, failure));
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
      since: this.marks.at(-1)?.seq ?? Number.MAX_SAFE_INTEGER,
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
    const note = JSON.parse(payload) as BatchNote;
    // Noted with no tail open too: a tail opening now gets rows numbered after the last mark.
    const covered = this.covered.get(note.r) ?? [];
    covered.push({ lo: note.lo, hi: note.hi, accounts: note.a && new Set(note.a) });
    this.covered.set(note.r, covered);
    if (this.subs.size === 0) return;
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

  private async mark(): Promise<void> {
    const [newest] = await this.sql<{ seq: number | bigint | null }[]>`
      select max(seq) as seq from tracker.events`;
    this.marks.push({ at: Date.now(), seq: Number(newest?.seq ?? 0) });
  }

  private async sweep(): Promise<void> {
    await this.mark();
    const due = Date.now() - this.sweepLagMs;
    while (this.marks.length >= 2 && this.marks[1]!.at <= due) {
      const [from, to] = this.marks as [{ at: number; seq: number }, { at: number; seq: number }];
      if (to.seq > from.seq && this.subs.size > 0) await this.sweepRange(from.seq, to.seq);
      this.marks.shift();
    }
    const floor = this.marks[0]!.seq;
    for (const [region, ranges] of this.covered) {
      this.covered.set(
        region,
        ranges.filter((c) => c.hi > floor),
      );
    }
  }

  /** The rows in (from, to] of the tailed accounts that no notification covered. */
  private async sweepRange(from: number, to: number): Promise<void> {
    const accounts = new Map<string, Set<string>>();
    for (const s of this.subs) {
      if (s.since >= to) continue;
      const set = accounts.get(s.region) ?? new Set();
      set.add(s.filter.account);
      accounts.set(s.region, set);
    }
    for (const [region, wanted] of accounts) {
      const found = await seqsInRange(this.sql, region, [...wanted], from, to);
      const ranges = (this.covered.get(region) ?? []).filter((c) => c.hi > from && c.lo <= to);
      const missed = found.filter(
        (r) =>
          !ranges.some(
            (c) =>
              c.lo <= r.seq && r.seq <= c.hi && (c.accounts === null || c.accounts.has(r.account)),
          ),
      );
      if (missed.length === 0) continue;
      this.log.warn(
        { region, rows: missed.length, from, to },
        "tail rows that no notification announced (its tracker stopped before sending it): sent now",
      );
      const rows = await rowsBySeq(
        this.sql,
        region,
        missed.map((r) => r.seq),
      );
      for (const s of this.subs) {
        if (s.region !== region) continue;
        const mine = rows.filter((r) => r.line._account === s.filter.account && r.seq > s.since);
        if (mine.length > 0) this.deliver(s, mine);
      }
    }
  }
}
