/**
 * Error codes of the OCI Distribution Spec with the HTTP status each is answered with.
 * MANIFEST_BLOB_UNKNOWN is 400 as in the reference registry: the manifest PUT is the bad
 * request, not a missing resource at the URL.
 */
export const OCI_ERRORS = {
  BLOB_UNKNOWN: { status: 404, message: "blob unknown to registry" },
  BLOB_UPLOAD_INVALID: { status: 400, message: "blob upload invalid" },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: "blob upload unknown to registry" },
  DIGEST_INVALID: { status: 400, message: "provided digest did not match uploaded content" },
  MANIFEST_BLOB_UNKNOWN: {
    status: 400,
    message: "manifest references a manifest or blob unknown to registry",
  },
  MANIFEST_INVALID: { status: 400, message: "manifest invalid" },
  MANIFEST_UNKNOWN: { status: 404, message: "manifest unknown to registry" },
  NAME_INVALID: { status: 400, message: "invalid repository name" },
  NAME_UNKNOWN: { status: 404, message: "repository name not known to registry" },
  SIZE_INVALID: { status: 400, message: "provided length did not match content length" },
  UNAUTHORIZED: { status: 401, message: "authentication required" },
  DENIED: { status: 403, message: "requested access to the resource is denied" },
  UNSUPPORTED: { status: 415, message: "the operation is unsupported" },
  TOOMANYREQUESTS: { status: 429, message: "too many requests" },
  RANGE_INVALID: { status: 416, message: "requested range not satisfiable" },
  PAGINATION_NUMBER_INVALID: { status: 400, message: "invalid number of results requested" },
} as const;

export type OciErrorCode = keyof typeof OCI_ERRORS;

/** A protocol error carrying its OCI code; the HTTP layer renders it as the spec's JSON. */
export class OciError extends Error {
  readonly code: OciErrorCode;
  readonly status: number;
  readonly detail: unknown;
  constructor(code: OciErrorCode, message?: string, detail?: unknown) {
    super(message ?? OCI_ERRORS[code].message);
    this.name = "OciError";
    this.code = code;
    this.status = OCI_ERRORS[code].status;
    this.detail = detail;
  }

  toJSON(): { errors: { code: OciErrorCode; message: string; detail?: unknown }[] } {
    return {
      errors: [
        {
          code: this.code,
          message: this.message,
          ...(this.detail === undefined ? {} : { detail: this.detail }),
        },
      ],
    };
  }
}
