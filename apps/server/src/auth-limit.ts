/**
 * Failed authentication attempts per source address, over a sliding window. Once a source
 * has failed `maxFailures` times within `windowMs`, every request of it that carries a
 * credential is refused with 429 (and Retry-After) until the oldest failure in the window
 * ages out, before the credential is even looked at: a guesser learns nothing, not even
 * which guess was right. Requests without a credential (the first, anonymous request of a
 * registry client) are never counted nor refused.
 *
 * One limiter per server process, shared by its region listeners. Several processes behind
 * a balancer each count their own share; the source is the TCP peer (no proxy headers
 * trusted).
 */
export interface AuthLimitOptions {
  /** Failures allowed per source within the window; 0 disables the limit. */
  maxFailures: number;
  windowMs: number;
  /** Sources remembered at most (the least recently failing go first). */
  maxSources?: number;
}

export const AUTH_LIMIT_DEFAULTS: AuthLimitOptions = {
  maxFailures: 30,
  windowMs: 60_000,
  maxSources: 10_000,
};

export class AuthFailureLimiter {
  /** Times of the latest failures of each source, oldest first, at most maxFailures. */
  private readonly failures = new Map<string, number[]>();
  private readonly maxSources: number;

  constructor(
    readonly opts: AuthLimitOptions = AUTH_LIMIT_DEFAULTS,
    private readonly now: () => number = Date.now,
  ) {
    this.maxSources = opts.maxSources ?? AUTH_LIMIT_DEFAULTS.maxSources!;
  }

  /** Milliseconds until `source` may present a credential again; 0 when it may now. */
  blockedFor(source: string): number {
    if (this.opts.maxFailures <= 0) return 0;
    const times = this.failures.get(source);
    if (!times) return 0;
    const now = this.now();
    while (times.length > 0 && times[0]! <= now - this.opts.windowMs) times.shift();
    if (times.length === 0) {
      this.failures.delete(source);
      return 0;
    }
    if (times.length < this.opts.maxFailures) return 0;
    return times[0]! + this.opts.windowMs - now;
  }

  /** Count a failed attempt of `source`. */
  failed(source: string): void {
    if (this.opts.maxFailures <= 0) return;
    const times = this.failures.get(source) ?? [];
    // Re-inserted last: the map's order is the eviction order.
    this.failures.delete(source);
    times.push(this.now());
    if (times.length > this.opts.maxFailures) times.splice(0, times.length - this.opts.maxFailures);
    this.failures.set(source, times);
    while (this.failures.size > this.maxSources) {
      const oldest = this.failures.keys().next().value;
      if (oldest === undefined) break;
      this.failures.delete(oldest);
    }
  }

  /** Sources currently remembered (for tests and metrics). */
  get size(): number {
    return this.failures.size;
  }
}

/** Seconds for a Retry-After header (at least 1). */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

export function tooManyFailuresMessage(ms: number): string {
  return `too many failed authentication attempts from this address; try again in ${retryAfterSeconds(ms)} s`;
}
