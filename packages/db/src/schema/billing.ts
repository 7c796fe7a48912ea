import { bigint, integer, pgTable, primaryKey, text } from "drizzle-orm/pg-core";
import { updatedAt } from "./columns";
import { accountRegion } from "./owned";

/** Plan per account and region; absent means `lite`. */
export const plans = pgTable(
  "plans",
  {
    ...accountRegion(),
    plan: text("plan", { enum: ["lite", "standard"] }).notNull(),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.region] })],
);

/** User-set quotas in MB per account and region; null means only the plan's cap applies. */
export const quotas = pgTable(
  "quotas",
  {
    ...accountRegion(),
    storageMb: integer("storage_mb"),
    trafficMb: integer("traffic_mb"),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.region] })],
);

/** Pull traffic per account, region and calendar month (`YYYY-MM`, UTC). */
export const pullTraffic = pgTable(
  "pull_traffic",
  {
    ...accountRegion(),
    month: text("month").notNull(),
    bytes: bigint("bytes", { mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.region, t.month] })],
);
