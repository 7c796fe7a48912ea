import {
  type Db,
  enqueueEvents,
  GroupCommit,
  isDatabaseUnavailable,
  neverReachedDatabase,
  type OutboxEventInput,
  outboxHolds,
  perDb,
  transactionStatus,
  wakeWorkers,
} from "@berth/db";
import { RegistryError } from "./errors";

/**
 * Group commit of the events of audited reads. A read changes nothing, so its event alone
 * needs a write transaction: its own would cost an insert, an xid and a commit waiting for
 * the WAL flush per request. Instead the events of all the reads waiting at a moment go into
 * the outbox in one statement, its own transaction, and each read is answered only once that
 * statement has committed: nothing is answered whose event could be lost. `GroupCommit`
 * forms the batches: the reads finishing while one is in flight make the next.
 */

/** Events in one batch at most (a request's events are never split). */
const MAX_BATCH_EVENTS = 256;

/** Each request's events, group-committed: a batch is every request waiting at a moment. */
function eventBatcher(db: Db): GroupCommit<OutboxEventInput[]> {
  return new GroupCommit((requests) => writeBatch(db, requests.flat()), {
    maxSize: MAX_BATCH_EVENTS,
    sizeOf: (events) => events.length,
    // Each request its own error: the callers handle and log them apart.
    errorFor: (error) =>
      error instanceof CommitInDoubtError ? new CommitInDoubtError(error.cause) : error,
  });
}

/**
 * The batch's events in one statement that is its own transaction (no BEGIN and COMMIT: one
 * round trip and one wake-up of the database per batch instead of three; Postgres commits the
 * statement before it answers). An answer lost with its connection leaves the statement's
 * outcome unknown, and without a transaction id read beforehand the only witness is the
 * outbox: finding the batch's events there proves it committed. Not finding them proves
 * nothing (a worker may already have delivered and deleted them), so that is in doubt, as is
 * a database that cannot be asked (no failure event may follow: it might contradict a
 * success). A statement that never reached the database (refused, no connection) failed.
 * Resolves once committed; throws the error to answer every read of the batch with.
 */
async function writeBatch(db: Db, events: OutboxEventInput[]): Promise<void> {
  try {
    await enqueueEvents(db, events);
  } catch (thrown) {
    if (!isDatabaseUnavailable(thrown) || neverReachedDatabase(thrown)) {
      throw thrown ?? new Error("the events' statement failed");
    }
    if ((await eventsOutcome(db, events[0]!.event.id)) !== "committed") {
      throw new CommitInDoubtError(thrown);
    }
  }
  wakeWorkers(db);
}

/** Whether a batch (all or nothing: one statement) is in the outbox, by one of its events. */
function eventsOutcome(db: Db, eventId: string): Promise<"committed" | "unknown"> {
  return askUntilAnswered(async () => ((await outboxHolds(db, eventId)) ? "committed" : "unknown"));
}

const batcherOf = perDb(eventBatcher);

/** Commit events through the database handle's batcher (one per pool, so per process). */
export function commitEvents(db: Db, events: OutboxEventInput[]): Promise<void> {
  if (events.length === 0) return Promise.resolve();
  return batcherOf(db).add(events);
}

export const COMMIT_IN_DOUBT_MESSAGE =
  "the registry lost its database while saving this change: it may have been saved; check before trying again";

/** The error of a commit whose outcome cannot be learned; no failure event follows it. */
export class CommitInDoubtError extends RegistryError {
  constructor(cause: unknown) {
    super("UNAVAILABLE", COMMIT_IN_DOUBT_MESSAGE, undefined, { cause });
  }
}

/** How long a request waits to learn the outcome of a commit in doubt. */
const COMMIT_CHECK_MS = 5000;

/** What became of a transaction whose COMMIT got no answer, by its id (`unknown` if it cannot be told). */
export function commitOutcome(db: Db, xid: string): Promise<"committed" | "aborted" | "unknown"> {
  return askUntilAnswered(async () => {
    const status = await transactionStatus(db, xid);
    return status === "in progress" ? undefined : status;
  });
}

/**
 * Ask the database, on another connection, until `probe` answers (undefined: ask again), for
 * up to COMMIT_CHECK_MS (the database may be restarting): `unknown` if it never does.
 */
async function askUntilAnswered<T>(probe: () => Promise<T | undefined>): Promise<T | "unknown"> {
  const deadline = Date.now() + COMMIT_CHECK_MS;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    try {
      // A query may wait for a connection that never comes: bounded by the deadline.
      const answer = await Promise.race([
        probe(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error("timeout")),
            Math.max(1, deadline - Date.now()),
          );
        }),
      ]);
      if (answer !== undefined) return answer;
    } catch {
      // Not reachable yet.
    } finally {
      clearTimeout(timer);
    }
    if (Date.now() >= deadline) return "unknown";
    await new Promise((r) => setTimeout(r, 100));
  }
}
