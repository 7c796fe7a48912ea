import { InvalidReferenceError, OCI_ERRORS, OciError, type OciErrorCode } from "@berth/core";
import { RegistryError, type RegistryErrorCode, toRegistryError } from "../errors";
import {
  BlobNotFoundError,
  DigestMismatchError,
  InvalidRangeError,
  SizeMismatchError,
} from "../storage/blob-store";
import { UploadNotFoundError, UploadOffsetError } from "../storage/uploads";

const CODE_OF_STATUS: Record<number, RegistryErrorCode> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  409: "CONFLICT",
};

/**
 * A refusal of the OCI API: its OCI error code and HTTP status travel with it, so the
 * failure event carries the status the client saw (413 for an oversize manifest, 416 for
 * a chunk out of order) and the HTTP layer renders the code.
 */
export class OciFailure extends RegistryError {
  readonly ociCode: OciErrorCode;
  constructor(ociCode: OciErrorCode, message?: string, status?: number) {
    const httpStatus = status ?? OCI_ERRORS[ociCode].status;
    super(CODE_OF_STATUS[httpStatus] ?? "BAD_REQUEST", message ?? OCI_ERRORS[ociCode].message);
    this.ociCode = ociCode;
    // RegistryError derives the status from its code; an OCI refusal has its own.
    Object.defineProperty(this, "status", { value: httpStatus, enumerable: true });
  }
}

/** What a client is told: OCI code (or UNKNOWN for internal errors), status and message. */
export interface OciErrorInfo {
  /** UNAVAILABLE (503) is the reference registry's code for a passing outage. */
  code: OciErrorCode | "UNKNOWN" | "UNAVAILABLE";
  status: number;
  message: string;
}

/**
 * Any error of an OCI operation as a RegistryError whose status is the one answered, for
 * use inside audited attempts (which turn anything else into an internal error).
 */
export function ociFailureOf(error: unknown): RegistryError {
  if (error instanceof RegistryError) return error;
  if (error instanceof OciError) return new OciFailure(error.code, error.message);
  if (error instanceof InvalidReferenceError) {
    return new OciFailure(
      error.code === "NAME_INVALID"
        ? "NAME_INVALID"
        : error.code === "DIGEST_INVALID"
          ? "DIGEST_INVALID"
          : "MANIFEST_INVALID",
      error.message,
    );
  }
  if (error instanceof DigestMismatchError) return new OciFailure("DIGEST_INVALID", error.message);
  if (error instanceof SizeMismatchError) return new OciFailure("SIZE_INVALID", error.message);
  if (error instanceof InvalidRangeError) return new OciFailure("RANGE_INVALID", error.message);
  if (error instanceof BlobNotFoundError) return new OciFailure("BLOB_UNKNOWN", error.message);
  if (error instanceof UploadNotFoundError) {
    return new OciFailure("BLOB_UPLOAD_UNKNOWN", error.message);
  }
  if (error instanceof UploadOffsetError) {
    return new OciFailure("BLOB_UPLOAD_INVALID", error.message, 416);
  }
  return toRegistryError(error);
}

const CODE_OF_DETAIL: Partial<Record<string, OciErrorCode>> = {
  NAME_INVALID: "NAME_INVALID",
  TAG_INVALID: "MANIFEST_INVALID",
  DIGEST_INVALID: "DIGEST_INVALID",
  NAME_UNKNOWN: "NAME_UNKNOWN",
  MANIFEST_UNKNOWN: "MANIFEST_UNKNOWN",
  MANIFEST_INVALID: "MANIFEST_INVALID",
  MANIFEST_BLOB_UNKNOWN: "MANIFEST_BLOB_UNKNOWN",
  BLOB_UNKNOWN: "BLOB_UNKNOWN",
};

/** The OCI error a client gets for any error of an OCI operation. */
export function ociErrorInfo(error: unknown): OciErrorInfo {
  const failure = ociFailureOf(error);
  if (failure instanceof OciFailure) {
    return { code: failure.ociCode, status: failure.status, message: failure.message };
  }
  const byDetail = failure.detail ? CODE_OF_DETAIL[failure.detail] : undefined;
  if (byDetail) return { code: byDetail, status: failure.status, message: failure.message };
  switch (failure.code) {
    case "UNAUTHORIZED":
      return { code: "UNAUTHORIZED", status: 401, message: failure.message };
    case "FORBIDDEN":
    case "QUOTA_EXCEEDED":
    case "PLAN_LIMIT":
      return { code: "DENIED", status: 403, message: failure.message };
    case "NOT_FOUND":
      return { code: "NAME_UNKNOWN", status: 404, message: failure.message };
    case "CONFLICT":
      return { code: "DENIED", status: 409, message: failure.message };
    case "BAD_REQUEST":
      return { code: "UNSUPPORTED", status: 400, message: failure.message };
    case "UNAVAILABLE":
      return { code: "UNAVAILABLE", status: 503, message: failure.message };
    case "INSUFFICIENT_STORAGE":
      return { code: "UNAVAILABLE", status: 507, message: failure.message };
    default:
      // Internal details stay in the logs (the error's cause), never in the response.
      return { code: "UNKNOWN", status: 500, message: "internal error" };
  }
}
