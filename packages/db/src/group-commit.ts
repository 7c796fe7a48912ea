/**
 * Group commit: the statements many concurrent callers would each send, sent as one. With
 * nothing in flight a batch goes at the end of the current turn of the event loop (the
 * callers of the same turn join it); while one is in flight the next accumulates and goes
 * when it returns. An idle process adds no wait; a busy one sends one statement per round
 * trip of the database, not one per caller. Each caller learns its batch's outcome.
 *
 * Used per pool (`perDb`): the audited reads' events, the pull-traffic counts, the workers'
 * wake-ups.
 */
export interface GroupCommitOptions<T> {
  /** A batch holds items up to this total size at most (at least one item). */
  maxSize?: number;
  /** An item's size (default 1). */
  sizeOf?: (item: T) => number;
  /** What each caller of a failed batch is rejected with (default: the batch's error). */
  errorFor?: (error: unknown) => unknown;
}

interface Waiting<T> {
  item: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class GroupCommit<T> {
  private queue: Waiting<T>[] = [];
  private running = false;

  constructor(
    /** Writes a batch; resolves once it is committed, throws when it is not. */
    private readonly write: (items: T[]) => Promise<void>,
    private readonly options: GroupCommitOptions<T> = {},
  ) {}

  /** Resolves once the item's batch is committed; rejects with the batch's error otherwise. */
  add(item: T): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.take();
      try {
        await this.write(batch.map((w) => w.item));
        for (const w of batch) w.resolve();
      } catch (error) {
        const errorFor = this.options.errorFor ?? ((e: unknown) => e);
        for (const w of batch) w.reject(errorFor(error));
      }
    }
    this.running = false;
  }

  /** Items from the head of the queue, up to maxSize in all (at least one). */
  private take(): Waiting<T>[] {
    const { maxSize = Number.POSITIVE_INFINITY, sizeOf = () => 1 } = this.options;
    let n = 0;
    let total = 0;
    while (n < this.queue.length) {
      const size = sizeOf(this.queue[n]!.item);
      if (n > 0 && total + size > maxSize) break;
      total += size;
      n++;
    }
    return this.queue.splice(0, n);
  }
}
