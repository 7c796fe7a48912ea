/**
 * Exponential backoff with full jitter: a delay drawn uniformly from [0, min(cap, base·2^(n-1))].
 * Full jitter spreads the retries of many failed batches over the whole window, so a tracker
 * that comes back is not hit by every worker at the same instant.
 */
export function backoffDelay(
  attempt: number,
  opts: { baseMs: number; maxMs: number },
  random: () => number = Math.random,
): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * exp);
}

/** `Retry-After` in ms (seconds or an HTTP date), when the receiver sent one. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return 0;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? 0 : Math.max(0, at - now);
}
