import type { ParsedEventFilter, TrackerLine } from "@berth/tracker-client";
import type { Logger } from "pino";
import type postgres from "postgres";
import { type BatchNote, rowsInRange, type TailRow, TRACKER_CHANNEL } from "./store";

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
}

const RECENT_IDS = 10_000;

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

  subscribe(region: string, filter: ParsedEventFilter, send: (rows: TailRow[]) => void) {
    const sub: Subscriber = { region, filter, send, recent: new Set() };
    this.subs.add(sub);
    return {
      /** Deliver rows fetched outside notifications (a resume), deduplicated like the rest. */
      push: (rows: TailRow[]) => this.deliver(sub, rows),
      close: () => {
        this.subs.delete(sub);
      },
    };
  }

  private deliver(sub: Subscriber, rows: TailRow[]): void {
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
