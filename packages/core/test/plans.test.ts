import { describe, expect, it } from "vitest";
import { canUpgrade, MB, PLAN_NAMES, PLANS, planSchema } from "../src/index";

describe("plans", () => {
  it("caps lite at 512 MB of storage and 5120 MB of monthly pulls, in binary MB", () => {
    expect(MB).toBe(1_048_576);
    expect(PLANS.lite).toEqual({ storageBytes: 536_870_912, pullTrafficBytes: 5_368_709_120 });
    expect(PLANS.standard).toEqual({ storageBytes: null, pullTrafficBytes: null });
  });

  it("only upgrades from lite to standard", () => {
    const allowed = PLAN_NAMES.flatMap((from) =>
      PLAN_NAMES.filter((to) => canUpgrade(from, to)).map((to) => `${from}->${to}`),
    );
    expect(allowed).toEqual(["lite->standard"]);
  });

  it("validates plan names", () => {
    expect(planSchema.safeParse("standard").success).toBe(true);
    expect(planSchema.safeParse("premium").success).toBe(false);
  });
});
