import { type ActionName, type AtEvent, buildEvent, type TargetType } from "@berth/core";
import {
  currentTransactionId,
  type Db,
  type DbOrTx,
  enqueueEvents,
  isDatabaseUnavailable,
  type OutboxEventInput,
  type Tx,
  wakeWorkers,
} from "@berth/db";
import { CommitInDoubtError, commitEvents, commitOutcome } from "./audit-batch";
import { accountId, initiatorOf, nowOf, type RegistryContext } from "./context";
import { type RegistryError, toRegistryError } from "./errors";
import { eventId } from "./event-id";

/** The resource an event is about. */
export interface EventTarget {
  /** The name as the caller gave it (`ns/repo:tag`, `birds`). */
  name: string;
  /** The resource inside the CRN when it differs from `name` (an image by digest). */
  crnName?: string;
  /** Defaults to the catalog's target type of the action. */
  type?: TargetType;
}

/** One event to write: one per target resource of an attempt. */
export interface AuditRecord {
  target: EventTarget;
  /** What the message names after the verb and object, e.g. "birds". */
  messageDetail?: string;
  requestData?: Record<string, unknown>;
  responseData?: Record<string, unknown>;
  /** HTTP status of a success (default 200). */
  status?: number;
  /** Set when this target failed while others of the same bulk request did not. */
  error?: RegistryError;
}

export interface AuditedAttempt<T> {
  action: ActionName;
  /**
   * The events to write when the whole attempt fails. Computed from the raw input, so it
   * must not assume the input is valid (see `safeName`).
   */
  failure: () => AuditRecord[];
  /**
   * The state change. It runs in a transaction and returns one record per target; the
   * events are enqueued in the same transaction, so both commit or neither does.
   */
  execute: (tx: Tx) => Promise<{
    result: T;
    records: AuditRecord[];
    /**
     * Writes of the change that nothing after them reads (a traffic count, a pull time),
     * started and not awaited: they travel to the database with the events' insert, in one
     * round trip instead of one each, and are awaited with it, in the same transaction.
     * When one fails, the attempt fails with its error.
     */
    alongside?: Promise<unknown>[];
  }>;
}

/**
 * Benchmark only (`pnpm bench:api` sets it on a second server process): audited calls run
 * without their events (changes in the same transaction, reads on the pool), so the cost of
 * the audit can be priced. Never set it anywhere else: actions would leave no events.
 */
const UNAUDITED_FOR_BENCHMARK = process.env.BERTH_BENCH_UNAUDITED === "1";

/** Longest reasonForFailure kept; messages quote user input, which may be long. */
const MAX_REASON = 1000;

/**
 * Run an audited attempt. On success the state change and its events commit together.
 * When it throws, the transaction rolls back (no partial state) and the failure events are
 * written in their own transaction before the error, as a RegistryError, is rethrown.
 * A bulk attempt whose every target failed commits its failure events and throws the
 * first target's error, so that one-target calls behave like any other action.
 */
export async function runAudited<T>(ctx: RegistryContext, attempt: AuditedAttempt<T>): Promise<T> {
  let firstError: RegistryError | undefined;
  let result: T;
  /** Set once the work is done and only the COMMIT is left: the transaction's id, its result. */
  let committing: { xid: string; result: T; events: boolean } | undefined;
  try {
    result = await ctx.db.transaction(async (tx) => {
      const out = await attempt.execute(tx);
      const alongside = out.alongside ?? [];
      // Awaited below; should building the events throw first, never an unhandled rejection.
      for (const write of alongside) write.catch(() => {});
      if (UNAUDITED_FOR_BENCHMARK) {
        await Promise.all(alongside);
        return out.result;
      }
      // The insert answers with the transaction's id, needed should the COMMIT go unanswered.
      const xid =
        out.records.length > 0
          ? enqueueEvents(
              tx,
              out.records.map((r) => outboxEntry(ctx, attempt.action, r)),
            )
          : currentTransactionId(tx);
      // All settled before anything is thrown, and the change's own error first: when a
      // write alongside fails (a name taken), the insert behind it fails only because the
      // transaction is aborted, which says nothing to the caller.
      const settled = await Promise.allSettled([...alongside, xid]);
      const failed = settled.find((s) => s.status === "rejected");
      if (failed) throw failed.reason;
      if (out.records.length > 0 && out.records.every((r) => r.error)) {
        firstError = out.records[0]!.error;
      }
      committing = { xid: await xid, result: out.result, events: out.records.length > 0 };
      return out.result;
    });
  } catch (thrown) {
    if (committing && isDatabaseUnavailable(thrown)) {
      // The connection went while committing: the change may well be in, with its events.
      const outcome = await commitOutcome(ctx.db, committing.xid);
      if (outcome === "committed") {
        if (committing.events) wakeWorkers(ctx.db);
        if (firstError) throw firstError;
        return committing.result;
      }
      if (outcome === "unknown") {
        // Whether it committed or not, no failure event: it might contradict a success.
        throw new CommitInDoubtError(thrown);
      }
    }
    const error = toRegistryError(thrown);
    await writeFailureEvents(ctx, attempt.action, safeFailureRecords(attempt), error);
    throw error;
  }
  if (committing?.events) wakeWorkers(ctx.db);
  if (firstError) throw firstError;
  return result;
}

export { COMMIT_IN_DOUBT_MESSAGE } from "./audit-batch";

/** An audited action that changes nothing (a get, a list): its reads and its event. */
export interface AuditedRead<T> {
  action: ActionName;
  /** As AuditedAttempt's. */
  failure: () => AuditRecord[];
  /**
   * The reads, on the pool and not in a transaction: each statement sees the database as of
   * its own start, as it would in a READ COMMITTED transaction. Returns one record per
   * target, as AuditedAttempt's execute.
   */
  read: (db: Db) => Promise<{ result: T; records: AuditRecord[] }>;
}

/**
 * Run an audited read. Its events are committed with those of the reads running at the same
 * time (one insert, one transaction: `audit-batch.ts`) and the answer is given only once
 * they are: a read whose event could be lost is never answered. When the reads fail, or the
 * events' transaction does, the failure events are written in their own transaction and the
 * error is rethrown, as runAudited does; a commit in doubt is answered as runAudited does.
 */
export async function runAuditedRead<T>(ctx: RegistryContext, attempt: AuditedRead<T>): Promise<T> {
  let firstError: RegistryError | undefined;
  let result: T;
  try {
    const out = await attempt.read(ctx.db);
    result = out.result;
    if (UNAUDITED_FOR_BENCHMARK) return result;
    if (out.records.length > 0 && out.records.every((r) => r.error)) {
      firstError = out.records[0]!.error;
    }
    await commitEvents(
      ctx.db,
      out.records.map((r) => outboxEntry(ctx, attempt.action, r)),
    );
  } catch (thrown) {
    if (thrown instanceof CommitInDoubtError) throw thrown;
    const error = toRegistryError(thrown);
    await writeFailureEvents(ctx, attempt.action, safeFailureRecords(attempt), error);
    throw error;
  }
  if (firstError) throw firstError;
  return result;
}

function safeFailureRecords(attempt: { failure: () => AuditRecord[] }): AuditRecord[] {
  try {
    const records = attempt.failure();
    if (records.length > 0) return records;
  } catch {
    // Fall through: the input was too broken to name a target.
  }
  return [{ target: { name: "unknown" } }];
}

/**
 * Write failure events in their own transaction. Best effort: when the database itself is
 * what failed, the original error matters more than the event that cannot be written.
 */
export async function writeFailureEvents(
  ctx: RegistryContext,
  action: ActionName,
  records: AuditRecord[],
  error: RegistryError,
): Promise<boolean> {
  try {
    await enqueueFailureEvents(ctx.db, ctx, action, records, error);
    wakeWorkers(ctx.db);
    return true;
  } catch {
    return false;
  }
}

export async function enqueueFailureEvents(
  tx: DbOrTx,
  ctx: RegistryContext,
  action: ActionName,
  records: AuditRecord[],
  error: RegistryError,
): Promise<void> {
  await enqueueEvents(
    tx,
    records.map((r) => outboxEntry(ctx, action, { ...r, responseData: undefined, error })),
  );
}

function outboxEntry(
  ctx: RegistryContext,
  action: ActionName,
  record: AuditRecord,
): OutboxEventInput {
  return { event: actionEvent(ctx, action, record), accountId: accountId(ctx), region: ctx.region };
}

/** The event of one record of an attempt. */
export function actionEvent(
  ctx: RegistryContext,
  action: ActionName,
  record: AuditRecord,
): AtEvent {
  const failed = record.error !== undefined;
  return buildEvent({
    id: eventId(),
    time: nowOf(ctx),
    action,
    outcome: failed ? "failure" : "success",
    region: ctx.region,
    account: accountId(ctx),
    initiator: initiatorOf(ctx),
    target: {
      name: record.target.name,
      ...(record.target.crnName !== undefined ? { crnName: record.target.crnName } : {}),
      ...(record.target.type !== undefined ? { type: record.target.type } : {}),
    },
    reasonCode: failed ? record.error!.status : (record.status ?? 200),
    ...(failed ? { reasonForFailure: record.error!.message.slice(0, MAX_REASON) } : {}),
    ...(record.messageDetail !== undefined ? { messageDetail: record.messageDetail } : {}),
    ...(record.requestData !== undefined ? { requestData: record.requestData } : {}),
    ...(record.responseData !== undefined && !failed ? { responseData: record.responseData } : {}),
    correlationId: ctx.requestId,
  });
}

const MAX_NAME = 256;

/**
 * A value from untrusted input usable as a target name and CRN resource: a string without
 * whitespace, shortened; anything else becomes `fallback`.
 */
export function safeName(value: unknown, fallback = "invalid"): string {
  if (typeof value !== "string") return fallback;
  const cleaned = value.trim().replace(/\s+/g, "_").slice(0, MAX_NAME);
  return cleaned === "" ? fallback : cleaned;
}

/** `raw[key]` when raw is an object, without trusting its shape. */
export function field(raw: unknown, key: string): unknown {
  return raw !== null && typeof raw === "object"
    ? (raw as Record<string, unknown>)[key]
    : undefined;
}

/** The target of account-level actions (lists, quota, plan). */
export function accountTarget(ctx: RegistryContext, type?: TargetType): EventTarget {
  return { name: accountId(ctx), ...(type ? { type } : {}) };
}
