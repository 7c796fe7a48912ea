import type { AuditRecord, EventTarget } from "./audit";
import { type RegistryError, toRegistryError } from "./errors";

/** The result of one target of a bulk action. */
export interface BulkOutcome {
  /** The target as given. */
  target: string;
  ok: boolean;
  /** On failure: the error code and message. */
  error?: { code: string; message: string };
}

/** Most targets one bulk call may name. */
export const MAX_BULK = 100;

/**
 * Collects the per-target records and outcomes of a bulk action. A target's own failure
 * (bad name, not found) is recorded and the others go on; an unexpected error aborts the
 * whole attempt (its transaction rolls back and every target gets a failure event).
 */
export class BulkRecorder {
  readonly records: AuditRecord[] = [];
  readonly results: BulkOutcome[] = [];

  ok(given: string, record: AuditRecord): void {
    this.records.push(record);
    this.results.push({ target: given, ok: true });
  }

  fail(given: string, target: EventTarget, thrown: unknown, messageDetail?: string): void {
    const error: RegistryError = toRegistryError(thrown);
    if (error.code === "INTERNAL") throw thrown;
    this.records.push({ target, error, ...(messageDetail ? { messageDetail } : {}) });
    this.results.push({
      target: given,
      ok: false,
      error: { code: error.code, message: error.message },
    });
  }
}
