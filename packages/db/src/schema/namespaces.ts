import { index, pgTable, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";
import { accounts } from "./accounts";

/** Namespace names are unique within a region across all accounts. */
export const namespaces = pgTable(
  "namespaces",
  {
    id: uuid("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    region: text("region").notNull(),
    name: text("name").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    unique("namespaces_region_name_uq").on(t.region, t.name),
    index("namespaces_account_region_idx").on(t.accountId, t.region),
  ],
);
