import type { ActionName } from "@berth/core";
import type { Db, Tx } from "@berth/db";
import { type AuditRecord, field, runAudited, runAuditedRead, safeName } from "./audit";
import type { RegistryContext } from "./context";

/**
 * An audited action on one resource named by the input's `key` field (a namespace, a
 * registry token): the input is parsed inside the attempt, and when the attempt fails its
 * event names what the caller gave (made safe: it may not be valid), as a success's event
 * names the resource.
 */
export function runOnNamed<I, T>(
  ctx: RegistryContext,
  raw: unknown,
  key: string,
  attempt: {
    action: ActionName;
    input: { parse(raw: unknown): I };
    execute(
      tx: Tx,
      input: I,
    ): Promise<{ result: T; records: AuditRecord[]; alongside?: Promise<unknown>[] }>;
  },
): Promise<T> {
  return runAudited(ctx, {
    action: attempt.action,
    failure: failureNaming(raw, key),
    execute: (tx) => attempt.execute(tx, attempt.input.parse(raw)),
  });
}

/** runOnNamed for an action that only reads (runAuditedRead: no transaction of its own). */
export function readOnNamed<I, T>(
  ctx: RegistryContext,
  raw: unknown,
  key: string,
  attempt: {
    action: ActionName;
    input: { parse(raw: unknown): I };
    read(db: Db, input: I): Promise<{ result: T; records: AuditRecord[] }>;
  },
): Promise<T> {
  return runAuditedRead(ctx, {
    action: attempt.action,
    failure: failureNaming(raw, key),
    read: (db) => attempt.read(db, attempt.input.parse(raw)),
  });
}

/** The failure event of a named action: it names what the caller gave, made safe. */
function failureNaming(raw: unknown, key: string): () => AuditRecord[] {
  const given = safeName(field(raw, key));
  return () => [{ target: { name: given }, messageDetail: given }];
}
