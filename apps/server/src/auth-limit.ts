import { isIP } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * Failed authentication attempts per source address, over a sliding window. Once a source
 * has failed `maxFailures` times within `windowMs`, every request of it that carries a
 * credential is refused with 429 (and Retry-After) until the oldest failure in the window
 * ages out, before the credential is even looked at: a guesser learns nothing, not even
 * which guess was right. Requests without a credential (the first, anonymous request of a
 * registry client) are never counted nor refused.
 *
 * The source is the request's client address: the TCP peer, or, when the peer is one of
 * BERTH_TRUSTED_PROXIES, the right-most address of X-Forwarded-For that is not a trusted
 * proxy (fastify's trustProxy; a client can prepend addresses, not replace the one its proxy
 * appends). An IPv6 source counts as its /64, which one host can have all of.
 *
 * The table is bounded (`maxSources`) and cannot be flushed: entries leave only once all of
 * their failures are out of the window (then their count is zero anyway). When it is full of
 * live entries, sources not in it share one overflow bucket with the same limit, so failing
 * from many new addresses neither evicts an attacker's entry nor gives each address a fresh
 * allowance; while the bucket is full, new sources presenting a credential are refused too.
 *
 * One limiter per server process, shared by its region listeners. Several processes behind
 * a balancer each count their own share.
 */
export interface AuthLimitOptions {
  /** Failures allowed per source within the window; 0 disables the limit. */
  maxFailures: number;
  windowMs: number;
  /** Sources remembered at most; beyond, new sources share one bucket. */
  maxSources?: number;
}

export const AUTH_LIMIT_DEFAULTS: AuthLimitOptions = {
  maxFailures: 30,
  windowMs: 60_000,
  maxSources: 10_000,
};

/** The key a client address is counted under: IPv4 as is, IPv6 by its /64. */
export function sourceKey(address: string): string {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === "ipv4") return parsed.toString();
  const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4);
  return `${parts.map((p) => p.toString(16)).join(":")}::/64`;
}

export class AuthFailureLimiter {
  /**
   * Times of the latest failures of each source, oldest first, at most maxFailures. The map's
   * order is that of each source's latest failure, so expired entries are at its front.
   */
  private readonly failures = new Map<string, number[]>();
  /** Failures of sources that found the table full. */
  private readonly overflow: number[] = [];
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
    const key = sourceKey(source);
    const times = this.failures.get(key);
    if (times) {
      const wait = this.waitFor(times);
      if (times.length === 0) this.failures.delete(key);
      return wait;
    }
    return this.waitFor(this.overflow);
  }

  /** Count a failed attempt of `source`. */
  failed(source: string): void {
    if (this.opts.maxFailures <= 0) return;
    const key = sourceKey(source);
    const now = this.now();
    let times = this.failures.get(key);
    if (times) {
      // Re-inserted last: the map stays in the order of latest failures.
      this.failures.delete(key);
    } else {
      this.dropExpired(now);
      if (this.failures.size >= this.maxSources) {
        this.record(this.overflow, now);
        return;
      }
      times = [];
    }
    this.record(times, now);
    this.failures.set(key, times);
  }

  /** Sources currently remembered (for tests and metrics). */
  get size(): number {
    return this.failures.size;
  }

  private record(times: number[], now: number): void {
    times.push(now);
    if (times.length > this.opts.maxFailures) times.splice(0, times.length - this.opts.maxFailures);
  }

  /** Forget failures out of the window; the wait while `times` is at the limit. */
  private waitFor(times: number[]): number {
    const now = this.now();
    while (times.length > 0 && times[0]! <= now - this.opts.windowMs) times.shift();
    if (times.length < this.opts.maxFailures) return 0;
    return times[0]! + this.opts.windowMs - now;
  }

  /** Entries whose latest failure is out of the window count nothing: they make room. */
  private dropExpired(now: number): void {
    for (const [key, times] of this.failures) {
      if (times[times.length - 1]! > now - this.opts.windowMs) return;
      this.failures.delete(key);
    }
  }
}

/**
 * BERTH_TRUSTED_PROXIES: addresses and CIDR ranges (`10.0.0.5, 10.1.0.0/16, fd00::/8`) of
 * the proxies in front of the server, whose X-Forwarded-For is believed. Throws naming the
 * first entry that is neither.
 */
export function parseTrustedProxies(spec: string | undefined): string[] {
  if (spec === undefined) return [];
  const out: string[] = [];
  for (const raw of spec.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const [address, prefix, extra] = entry.split("/");
    const family = isIP(address ?? "");
    const max = family === 4 ? 32 : 128;
    const bits = prefix === undefined ? max : /^\d{1,3}$/.test(prefix) ? Number(prefix) : -1;
    if (family === 0 || extra !== undefined || bits < 0 || bits > max) {
      throw new Error(`"${entry}" is not an IP address or a CIDR range (e.g. 10.0.0.0/8)`);
    }
    out.push(entry);
  }
  return out;
}

/** Seconds for a Retry-After header (at least 1). */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

export function tooManyFailuresMessage(ms: number): string {
  return `too many failed authentication attempts from this address; try again in ${retryAfterSeconds(ms)} s`;
}
