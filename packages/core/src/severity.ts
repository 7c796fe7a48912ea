import { z } from "zod";

export const SEVERITIES = ["normal", "warning", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];
export const severitySchema = z.enum(SEVERITIES);

// DESIGN §3 lists these codes explicitly; they are kept as data so the table
// reads like the design and a reviewer can diff the two.
const WARNING_CODES: ReadonlySet<number> = new Set([
  400, 404, 409, 413, 424, 429, 500, 502, 504, 505,
]);
const CRITICAL_CODES: ReadonlySet<number> = new Set([401, 403, 503, 507]);

/**
 * Severity of a failure event from its HTTP status.
 *
 * Codes the design does not list fall back by class: another 4xx is the
 * caller's mistake and puts nothing at risk, so `warning`; another 5xx means
 * the service could not do its job for a reason we did not anticipate, and
 * an unexplained server failure deserves the operator's attention, so
 * `critical`. A failure recorded with a non-error status (1xx-3xx) is a
 * caller bug rather than a risk, so it is not escalated: `warning`.
 */
export function failureSeverity(reasonCode: number): Severity {
  assertStatusCode(reasonCode);
  if (CRITICAL_CODES.has(reasonCode)) return "critical";
  if (WARNING_CODES.has(reasonCode)) return "warning";
  if (reasonCode >= 500) return "critical";
  return "warning";
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: "Continue",
  101: "Switching Protocols",
  102: "Processing",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  207: "Multi-Status",
  208: "Already Reported",
  226: "IM Used",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  305: "Use Proxy",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  402: "Payment Required",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  407: "Proxy Authentication Required",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Payload Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  418: "I'm a Teapot",
  421: "Misdirected Request",
  422: "Unprocessable Entity",
  423: "Locked",
  424: "Failed Dependency",
  425: "Too Early",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  451: "Unavailable For Legal Reasons",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
  506: "Variant Also Negotiates",
  507: "Insufficient Storage",
  508: "Loop Detected",
  510: "Not Extended",
  511: "Network Authentication Required",
};

/** HTTP status text for the event's `reason.reasonType` (404 → "Not Found"). */
export function reasonType(code: number): string {
  assertStatusCode(code);
  // Unregistered codes still need a readable, stable label in the event.
  return STATUS_TEXT[code] ?? `HTTP ${code}`;
}

export function isStatusCode(code: unknown): code is number {
  return typeof code === "number" && Number.isInteger(code) && code >= 100 && code <= 599;
}

function assertStatusCode(code: number): void {
  if (!isStatusCode(code)) {
    throw new RangeError(`reason code must be an HTTP status between 100 and 599, got ${code}`);
  }
}
