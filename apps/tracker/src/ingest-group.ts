import { GroupCommit, isDatabaseUnavailable, isRefusedInput } from "@berth/db";
import type postgres from "postgres";
import { MAX_BODY_BYTES } from "./ingest";
import { KnownLogs } from "./log/append";
import { type IngestBatch, insertEvents, type Placement, rewritten } from "./store";

interface Pending {
  batch: IngestBatch;
  /** Set by the write: the ids of the batch that were already stored, or why it failed. */
  outcome?: { duplicates: Set<string> } | { error: unknown };
}

/**
 * Group commit of ingestion, per region: the requests that arrive while a transaction of the
 * region is in flight are stored together by the next one. Concurrent requests of one region
 * almost always share account domains, whose log rows a transaction locks until it commits,
 * so they ran one after the other anyway, each paying its own transaction, commit and wait for
 * the locks; in one transaction they pay one (issue 15: at 1,000 events/s most of an event's
 * delay was this wait). Each request is answered when its group has committed.
 */
export class IngestGroups {
  private readonly groups = new Map<string, GroupCommit<Pending>>();
  /** The logs this process wrote last: most groups are then written in one statement. */
  private readonly known = new KnownLogs();

  constructor(
    private readonly sql: postgres.Sql,
    /** Called once for each transaction that committed, with the way it placed its events. */
    private readonly committed: (placed: Placement) => void = () => {},
  ) {}

  /** One-statement writes refused since start (a log another process grew, a redelivery). */
  get refusedWrites(): number {
    return this.known.refusedWrites;
  }

  /** Store a request's events; resolves with the ids that were already stored. */
  async store(region: string, batch: IngestBatch): Promise<Set<string>> {
    const pending: Pending = { batch };
    await this.group(region).add(pending);
    const outcome = pending.outcome!;
    if ("error" in outcome) throw outcome.error;
    return outcome.duplicates;
  }

  private group(region: string): GroupCommit<Pending> {
    let g = this.groups.get(region);
    if (!g) {
      g = new GroupCommit((items) => this.write(region, items), {
        // Bounds one transaction's input, as the body limit bounds a request's.
        maxSize: 2 * MAX_BODY_BYTES,
        sizeOf: (p) => p.batch.body.length,
      });
      this.groups.set(region, g);
    }
    return g;
  }

  /**
   * One transaction for the group. Should it fail for a reason other than the database's
   * absence, each request is tried again alone, so that a request that cannot be stored fails
   * by itself rather than with the neighbours it happened to arrive with.
   */
  private async write(region: string, items: Pending[]): Promise<void> {
    if (items.length > 1) {
      try {
        const { duplicates, placed } = await insertEvents(
          this.sql,
          region,
          items.map((p) => p.batch),
          this.known,
        );
        items.forEach((p, k) => {
          p.outcome = { duplicates: duplicates[k]! };
        });
        this.committed(placed);
        return;
      } catch (error) {
        if (isDatabaseUnavailable(error)) throw error;
      }
    }
    for (const p of items) {
      try {
        const { duplicates, placed } = await this.writeAlone(region, p.batch);
        p.outcome = { duplicates: duplicates[0]! };
        this.committed(placed);
      } catch (error) {
        p.outcome = { error };
      }
    }
  }

  private async writeAlone(region: string, batch: IngestBatch) {
    try {
      return await insertEvents(this.sql, region, [batch], this.known);
    } catch (error) {
      if (!batch.isRequestBody || !isRefusedInput(error)) throw error;
      return await insertEvents(this.sql, region, [rewritten(batch)], this.known);
    }
  }
}
