import { index, pgTable, text, unique } from "drizzle-orm/pg-core";
import { createdAt } from "./columns";
import { accountResource } from "./owned";

/** Namespace names are unique within a region across all accounts. */
export const namespaces = pgTable(
  "namespaces",
  {
    ...accountResource(),
    name: text("name").notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    unique("namespaces_region_name_uq").on(t.region, t.name),
    index("namespaces_account_region_idx").on(t.accountId, t.region),
  ],
);
