/**
 * Errors that mean the database cannot be reached right now (stopped, restarting, network
 * gone, out of connections), as opposed to a query that is wrong. Callers answer them with
 * 503 and a plain message: the request can be retried once the database is back, and the
 * driver reconnects by itself.
 */

/** Node socket errors and postgres.js connection errors. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EPIPE",
  "EAI_AGAIN",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "CONNECT_TIMEOUT",
]);

/**
 * SQLSTATEs of an unavailable server: class 08 (connection exception), the shutdown and
 * startup states of class 57, and too many connections.
 */
function unavailableState(code: string): boolean {
  return (
    code.startsWith("08") ||
    code === "57P01" || // admin_shutdown
    code === "57P02" || // crash_shutdown
    code === "57P03" || // cannot_connect_now (starting up, shutting down, recovering)
    code === "53300" // too_many_connections
  );
}

/** Whether `error` (or an error it wraps, as drizzle does) says the database is unreachable. */
export function isDatabaseUnavailable(error: unknown): boolean {
  return hasCode(error, (code) => CONNECTION_CODES.has(code) || unavailableState(code));
}

/**
 * Codes of a connection that was never made (refused, not found, the server starting or full):
 * no statement went out on it.
 */
const NOT_CONNECTED_CODES = new Set([
  "ECONNREFUSED",
  "CONNECT_TIMEOUT",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "57P03",
  "53300",
]);

/**
 * Whether `error` says the statement never reached the database (no connection could be made),
 * so that it certainly did not run; a connection lost later leaves that unknown.
 */
export function neverReachedDatabase(error: unknown): boolean {
  return hasCode(error, (code) => NOT_CONNECTED_CODES.has(code));
}

/**
 * Whether Postgres refused a statement's input: a data exception (class 22: a value out of
 * its range, an escape its JSON parser refuses) or a program limit (class 54: nesting deeper
 * than its parser's stack).
 */
export function isRefusedInput(error: unknown): boolean {
  return hasCode(error, (code) => code.startsWith("22") || code.startsWith("54"));
}

/** Whether `error`, an error it wraps, or one of an AggregateError's errors has such a code. */
function hasCode(error: unknown, matches: (code: string) => boolean): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 6; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && matches(code)) return true;
    const errors = (e as { errors?: unknown }).errors;
    // An AggregateError of a connection attempt to several addresses.
    if (Array.isArray(errors) && errors.some((inner) => hasCode(inner, matches))) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** What clients are told while the database is unreachable. */
export const DATABASE_UNAVAILABLE_MESSAGE =
  "the registry's database is unavailable; try again shortly";
