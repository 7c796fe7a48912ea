import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  effectiveLimits,
  MB,
  monthBounds,
  quotaAllows,
  STORAGE_QUOTA_MESSAGE,
  TRAFFIC_QUOTA_MESSAGE,
  trafficMonth,
  validateQuotaSet,
} from "../src/index";

describe("effectiveLimits", () => {
  it("takes the tighter of plan cap and user quota", () => {
    expect(effectiveLimits("lite", { storageMb: null, trafficMb: null })).toEqual({
      storageBytes: 512 * MB,
      pullTrafficBytes: 5120 * MB,
    });
    expect(effectiveLimits("lite", { storageMb: 100, trafficMb: 9000 })).toEqual({
      storageBytes: 100 * MB,
      pullTrafficBytes: 5120 * MB,
    });
    expect(effectiveLimits("standard", { storageMb: null, trafficMb: 0 })).toEqual({
      storageBytes: null,
      pullTrafficBytes: 0,
    });
    expect(effectiveLimits("standard", { storageMb: 2048, trafficMb: null })).toEqual({
      storageBytes: 2048 * MB,
      pullTrafficBytes: null,
    });
  });
});

describe("validateQuotaSet", () => {
  const message = (result: ReturnType<typeof validateQuotaSet>) =>
    result.ok ? "" : result.message;

  it("accepts whole MB within the plan's caps, and clearing a quota", () => {
    expect(validateQuotaSet("lite", { storageMb: 512 })).toEqual({ ok: true });
    expect(validateQuotaSet("lite", { storageMb: 0, trafficMb: 5120 })).toEqual({ ok: true });
    expect(validateQuotaSet("lite", { storageMb: null })).toEqual({ ok: true });
    expect(validateQuotaSet("standard", { storageMb: 10_000_000, trafficMb: 1 })).toEqual({
      ok: true,
    });
  });

  it("fails above the plan's cap and says so", () => {
    expect(message(validateQuotaSet("lite", { storageMb: 513 }))).toBe(
      "storage quota 513 MB is above the lite plan's limit of 512 MB; upgrade to the standard plan for more",
    );
    expect(message(validateQuotaSet("lite", { trafficMb: 5121 }))).toMatch(
      /pull traffic quota 5121 MB is above the lite plan's limit of 5120 MB/,
    );
  });

  it("fails on values that are not whole non-negative MB", () => {
    expect(message(validateQuotaSet("standard", { storageMb: -1 }))).toMatch(
      /must not be negative/,
    );
    expect(message(validateQuotaSet("standard", { trafficMb: 1.5 }))).toMatch(/whole number of MB/);
    expect(message(validateQuotaSet("standard", { trafficMb: Number.NaN }))).toMatch(
      /whole number/,
    );
    expect(message(validateQuotaSet("standard", { storageMb: 2 ** 40 }))).toMatch(/too large/);
    expect(message(validateQuotaSet("standard", {}))).toMatch(/give a storage quota/);
  });
});

describe("quotaAllows", () => {
  it("allows while usage is under the limit and refuses once it is reached", () => {
    expect(quotaAllows(0, 0)).toBe(false);
    expect(quotaAllows(511 * MB, 512 * MB)).toBe(true);
    // The push that crossed the limit went through; the next one is refused.
    expect(quotaAllows(600 * MB, 512 * MB)).toBe(false);
    expect(quotaAllows(512 * MB, 512 * MB)).toBe(false);
    expect(quotaAllows(Number.MAX_SAFE_INTEGER, null)).toBe(true);
  });

  it("is exactly usage < limit (property)", () => {
    fc.assert(
      fc.property(fc.nat(), fc.option(fc.nat()), (usage, limit) => {
        expect(quotaAllows(usage, limit)).toBe(limit === null || usage < limit);
      }),
    );
  });

  it("carries the original service's messages", () => {
    expect(STORAGE_QUOTA_MESSAGE).toBe(
      "You have exceeded your storage quota. Delete one or more images, or review your storage quota and pricing plan.",
    );
    expect(TRAFFIC_QUOTA_MESSAGE).toBe(
      "You have exceeded your pull traffic quota for the current month. Review your pull traffic quota and pricing plan.",
    );
  });
});

describe("traffic months", () => {
  it("names the UTC month", () => {
    expect(trafficMonth(new Date("2019-06-30T23:59:59.999Z"))).toBe("2019-06");
    expect(trafficMonth(new Date("2019-07-01T01:00:00+02:00"))).toBe("2019-06");
    expect(trafficMonth(new Date("2019-12-31T12:00:00Z"))).toBe("2019-12");
  });

  it("bounds a month from its first instant to the next month's", () => {
    expect(monthBounds("2019-12")).toEqual({
      start: new Date("2019-12-01T00:00:00Z"),
      end: new Date("2020-01-01T00:00:00Z"),
    });
    expect(monthBounds("2020-02").end).toEqual(new Date("2020-03-01T00:00:00Z"));
    expect(() => monthBounds("2019-13")).toThrow(/must look like 2019-06/);
    expect(() => monthBounds("2019-6")).toThrow(/must look like/);
  });

  it("places every instant inside the bounds of its month (property)", () => {
    const date = fc.date({
      min: new Date("0100-01-01Z"),
      max: new Date("9999-12-31Z"),
      noInvalidDate: true,
    });
    fc.assert(
      fc.property(date, (d) => {
        const { start, end } = monthBounds(trafficMonth(d));
        expect(start.getTime()).toBeLessThanOrEqual(d.getTime());
        expect(d.getTime()).toBeLessThan(end.getTime());
        expect(trafficMonth(start)).toBe(trafficMonth(d));
      }),
    );
  });
});
