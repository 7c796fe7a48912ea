import { z } from "zod";

/**
 * The original service quoted quotas in "MB" but counted binary megabytes
 * (2^20 bytes), as docker and the registry report sizes; using the same unit
 * keeps "512 MB" meaning what its users measured.
 */
export const MB = 1024 * 1024;

export const PLAN_NAMES = ["lite", "standard"] as const;
export type PlanName = (typeof PLAN_NAMES)[number];
export const planSchema = z.enum(PLAN_NAMES);

export interface PlanLimits {
  /** Cap on stored bytes in a region; null when the plan has none. */
  readonly storageBytes: number | null;
  /** Cap on pulled bytes per calendar month (UTC); null when the plan has none. */
  readonly pullTrafficBytes: number | null;
}

export const PLANS: Readonly<Record<PlanName, PlanLimits>> = Object.freeze({
  lite: Object.freeze({ storageBytes: 512 * MB, pullTrafficBytes: 5120 * MB }),
  standard: Object.freeze({ storageBytes: null, pullTrafficBytes: null }),
});

export const DEFAULT_PLAN: PlanName = "lite";

/** `plan.set` only upgrades; going back to lite could strand data above its caps. */
export function canUpgrade(from: PlanName, to: PlanName): boolean {
  return from === "lite" && to === "standard";
}
