import {
  InvalidExemptionScopeError,
  InvalidReferenceError,
  type ReferenceErrorCode,
  reasonType,
} from "@berth/core";
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from "@berth/db";
import { z } from "zod";

/**
 * What went wrong, independent of the surface: the tRPC layer maps it to a TRPCError code,
 * the OCI layer to an OCI error code, and every code has the HTTP status that becomes the
 * event's reason code.
 */
export const REGISTRY_ERROR_CODES = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  /** Storage or pull-traffic quota reached (OCI `DENIED`). */
  QUOTA_EXCEEDED: 403,
  /** The plan does not allow it (namespace limit, a quota above the plan's cap). */
  PLAN_LIMIT: 403,
  INTERNAL: 500,
  /**
   * The database cannot be reached, or the blob store is read-only, right now; the same
   * request may succeed shortly.
   */
  UNAVAILABLE: 503,
  /** No space left in the blob store (or the database's disk): nothing was stored. */
  INSUFFICIENT_STORAGE: 507,
} as const;

export type RegistryErrorCode = keyof typeof REGISTRY_ERROR_CODES;

/** A finer cause the OCI layer can turn into its own error code (NAME_UNKNOWN, BLOB_UNKNOWN...). */
export type RegistryErrorDetail =
  | ReferenceErrorCode
  | "NAME_UNKNOWN"
  | "MANIFEST_UNKNOWN"
  | "MANIFEST_INVALID"
  | "MANIFEST_BLOB_UNKNOWN"
  | "BLOB_UNKNOWN"
  | "DIGEST_INVALID";

export class RegistryError extends Error {
  override readonly name = "RegistryError";
  readonly status: number;
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    readonly detail?: RegistryErrorDetail,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.status = REGISTRY_ERROR_CODES[code];
  }

  /** The HTTP reason text of the status, for events ("Not Found"). */
  get reasonType(): string {
    return reasonType(this.status);
  }
}

export const badRequest = (message: string, detail?: RegistryErrorDetail) =>
  new RegistryError("BAD_REQUEST", message, detail);
export const notFound = (message: string, detail?: RegistryErrorDetail) =>
  new RegistryError("NOT_FOUND", message, detail);
export const conflict = (message: string) => new RegistryError("CONFLICT", message);

/** Message of a zod failure, one line per issue, naming the field. */
export function zodMessage(error: z.ZodError): string {
  return error.issues
    .map((issue) => {
      const path = issue.path.map(String).join(".");
      return path ? `${path}: ${issue.message}` : issue.message;
    })
    .join("; ");
}

/**
 * Any thrown value as a RegistryError. Unknown errors become INTERNAL with a generic
 * message: their text may hold details (SQL, paths) that belong in logs, not in events or
 * responses; the original stays as `cause`.
 */
export function toRegistryError(error: unknown): RegistryError {
  if (error instanceof RegistryError) return error;
  if (error instanceof z.ZodError) {
    return new RegistryError("BAD_REQUEST", zodMessage(error), undefined, { cause: error });
  }
  if (error instanceof InvalidReferenceError) {
    return new RegistryError("BAD_REQUEST", error.message, error.code, { cause: error });
  }
  if (error instanceof InvalidExemptionScopeError) {
    return new RegistryError("BAD_REQUEST", error.message, undefined, { cause: error });
  }
  if (isDatabaseUnavailable(error)) {
    return new RegistryError("UNAVAILABLE", DATABASE_UNAVAILABLE_MESSAGE, undefined, {
      cause: error,
    });
  }
  const storage = storageProblem(error);
  if (storage === "full") {
    return new RegistryError("INSUFFICIENT_STORAGE", STORAGE_FULL_MESSAGE, undefined, {
      cause: error,
    });
  }
  if (storage === "read-only") {
    return new RegistryError("UNAVAILABLE", STORAGE_READ_ONLY_MESSAGE, undefined, {
      cause: error,
    });
  }
  return new RegistryError("INTERNAL", "internal error", undefined, { cause: error });
}

export const STORAGE_FULL_MESSAGE =
  "the registry is out of storage space: nothing was stored; try again later";
export const STORAGE_READ_ONLY_MESSAGE =
  "the registry's storage is read-only at the moment: nothing was stored; try again later";

/**
 * A write the storage refused: `full` (no space: ENOSPC, EDQUOT, or Postgres' disk_full),
 * `read-only` (EROFS), else null. Looks through wrapped causes.
 */
export function storageProblem(error: unknown): "full" | "read-only" | null {
  for (let e: unknown = error, depth = 0; e && depth < 6; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === "ENOSPC" || code === "EDQUOT" || code === "53100") return "full";
    if (code === "EROFS") return "read-only";
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

/** Postgres unique violation (drizzle wraps driver errors, so look at the cause too). */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 4; depth++) {
    const pg = e as { code?: unknown; constraint_name?: unknown; cause?: unknown };
    if (pg.code === "23505") {
      return constraint === undefined || pg.constraint_name === constraint;
    }
    e = pg.cause;
  }
  return false;
}
