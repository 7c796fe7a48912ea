import { bigint, integer, pgTable, primaryKey, text, timestamp } from "drizzle-orm/pg-core";
import { accounts } from "./accounts";

/** Plan per account and region; absent means `lite`. */
export const plans = pgTable(
  "plans",
  {
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    region: text("region").notNull(),
    plan: text("plan", { enum: ["lite", "standard"] }).notNull(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.region] })],
);

/** User-set quotas in MB per account and region; null means only the plan's cap applies. */
export const quotas = pgTable(
  "quotas",
  {
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    region: text("region").notNull(),
    storageMb: integer("storage_mb"),
    trafficMb: integer("traffic_mb"),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.region] })],
);

/** Pull traffic per account, region and calendar month (`YYYY-MM`, UTC). */
export const pullTraffic = pgTable(
  "pull_traffic",
  {
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    region: text("region").notNull(),
    month: text("month").notNull(),
    bytes: bigint("bytes", { mode: "number" }).notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.region, t.month] })],
);
