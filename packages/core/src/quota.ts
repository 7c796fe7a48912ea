import { MB, PLANS, type PlanName } from "./plans";

export const STORAGE_QUOTA_MESSAGE =
  "You have exceeded your storage quota. Delete one or more images, or review your storage quota and pricing plan.";
export const TRAFFIC_QUOTA_MESSAGE =
  "You have exceeded your pull traffic quota for the current month. Review your pull traffic quota and pricing plan.";

/** Quotas as users set them, in MB; null means no user quota. */
export interface UserQuotas {
  readonly storageMb: number | null;
  readonly trafficMb: number | null;
}

export interface EffectiveLimits {
  readonly storageBytes: number | null;
  readonly pullTrafficBytes: number | null;
}

// Largest MB value whose byte count is still an exact JavaScript integer.
export const MAX_QUOTA_MB = Math.floor(Number.MAX_SAFE_INTEGER / MB);

/** The limits enforced: the tighter of the plan's cap and the user's quota. */
export function effectiveLimits(plan: PlanName, quotas: UserQuotas): EffectiveLimits {
  const caps = PLANS[plan];
  return {
    storageBytes: tighter(caps.storageBytes, mbToBytes(quotas.storageMb)),
    pullTrafficBytes: tighter(caps.pullTrafficBytes, mbToBytes(quotas.trafficMb)),
  };
}

export type QuotaCheck = { ok: true } | { ok: false; message: string };

/**
 * Check a quota.set request. A value of null clears that quota (back to the
 * plan's cap); an omitted value leaves it as it is.
 */
export function validateQuotaSet(
  plan: PlanName,
  request: { storageMb?: number | null; trafficMb?: number | null },
): QuotaCheck {
  if (request.storageMb === undefined && request.trafficMb === undefined) {
    return { ok: false, message: "give a storage quota, a pull traffic quota, or both (in MB)" };
  }
  const caps = PLANS[plan];
  const checks: [string, number | null | undefined, number | null][] = [
    ["storage", request.storageMb, caps.storageBytes],
    ["pull traffic", request.trafficMb, caps.pullTrafficBytes],
  ];
  for (const [what, mb, capBytes] of checks) {
    if (mb === undefined || mb === null) continue;
    if (typeof mb !== "number" || !Number.isInteger(mb)) {
      return { ok: false, message: `${what} quota must be a whole number of MB, got ${mb}` };
    }
    if (mb < 0) return { ok: false, message: `${what} quota must not be negative, got ${mb} MB` };
    if (mb > MAX_QUOTA_MB) {
      return {
        ok: false,
        message: `${what} quota ${mb} MB is too large (at most ${MAX_QUOTA_MB} MB)`,
      };
    }
    if (capBytes !== null && mb * MB > capBytes) {
      return {
        ok: false,
        message: `${what} quota ${mb} MB is above the ${plan} plan's limit of ${capBytes / MB} MB; upgrade to the standard plan for more`,
      };
    }
  }
  return { ok: true };
}

/**
 * Whether a push (storage) or pull (traffic) may start. As in the original
 * service the check is against usage so far, not usage plus this operation's
 * size, which is unknown until it completes: the operation that crosses the
 * limit succeeds, the next one is refused.
 */
export function quotaAllows(usageBytes: number, limitBytes: number | null): boolean {
  return limitBytes === null || usageBytes < limitBytes;
}

/** The pull-traffic accounting month of an instant, "YYYY-MM" in UTC. */
export function trafficMonth(date: Date): string {
  if (Number.isNaN(date.getTime()))
    throw new RangeError("cannot take the month of an invalid Date");
  const year = date.getUTCFullYear();
  if (year < 0 || year > 9999) throw new RangeError(`year out of range: ${year}`);
  return `${String(year).padStart(4, "0")}-${String(date.getUTCMonth() + 1).padStart(2, "0")}`;
}

/** UTC bounds of a "YYYY-MM" month: start inclusive, end exclusive (the next month's start). */
export function monthBounds(month: string): { start: Date; end: Date } {
  const match = /^(\d{4})-(\d{2})$/.exec(month);
  const year = Number(match?.[1]);
  const index = Number(match?.[2]) - 1;
  if (!match || index < 0 || index > 11) {
    throw new RangeError(`month must look like 2019-06, got "${month}"`);
  }
  return { start: utcMonthStart(year, index), end: utcMonthStart(year, index + 1) };
}

function utcMonthStart(year: number, monthIndex: number): Date {
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(year, monthIndex, 1);
  return date;
}

function mbToBytes(mb: number | null): number | null {
  return mb === null ? null : mb * MB;
}

function tighter(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  if (b === null) return a;
  return Math.min(a, b);
}
