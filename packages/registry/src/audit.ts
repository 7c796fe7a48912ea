import { type ActionName, type AtEvent, buildEvent, type TargetType } from "@berth/core";
import { type DbOrTx, enqueueEvents, type OutboxEventInput, type Tx } from "@berth/db";
import { v7 as uuidv7 } from "uuid";
import { accountId, initiatorOf, nowOf, type RegistryContext } from "./context";
import { type RegistryError, toRegistryError } from "./errors";

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
  execute: (tx: Tx) => Promise<{ result: T; records: AuditRecord[] }>;
}

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
  try {
    result = await ctx.db.transaction(async (tx) => {
      const out = await attempt.execute(tx);
      await enqueueEvents(
        tx,
        out.records.map((r) => outboxEntry(ctx, attempt.action, r)),
      );
      if (out.records.length > 0 && out.records.every((r) => r.error)) {
        firstError = out.records[0]!.error;
      }
      return out.result;
    });
  } catch (thrown) {
    const error = toRegistryError(thrown);
    await writeFailureEvents(ctx, attempt.action, safeFailureRecords(attempt), error);
    throw error;
  }
  if (firstError) throw firstError;
  return result;
}

function safeFailureRecords(attempt: AuditedAttempt<unknown>): AuditRecord[] {
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
    id: uuidv7(),
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
