import type { ActionName } from "@berth/core";
import type { Tx } from "@berth/db";
import { type AuditRecord, field, runAudited, safeName } from "./audit";
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
    execute(tx: Tx, input: I): Promise<{ result: T; records: AuditRecord[] }>;
  },
): Promise<T> {
  const given = safeName(field(raw, key));
  return runAudited(ctx, {
    action: attempt.action,
    failure: () => [{ target: { name: given }, messageDetail: given }],
    execute: (tx) => attempt.execute(tx, attempt.input.parse(raw)),
  });
}
