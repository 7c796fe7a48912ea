import { index, pgTable, text, timestamp, unique, uuid } from "drizzle-orm/pg-core";
import { accounts } from "./accounts";

/** Registry tokens: the secret is shown once at creation and stored only as a hash. */
export const registryTokens = pgTable(
  "registry_tokens",
  {
    id: uuid("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    region: text("region").notNull(),
    description: text("description").notNull().default(""),
    access: text("access", { enum: ["read", "readwrite"] }).notNull(),
    secretHash: text("secret_hash").notNull().unique(),
    expiresAt: timestamp("expires_at", { withTimezone: true }),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
  },
  (t) => [index("registry_tokens_account_region_idx").on(t.accountId, t.region)],
);

export const exemptions = pgTable(
  "exemptions",
  {
    id: uuid("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    region: text("region").notNull(),
    scope: text("scope").notNull(),
    issueType: text("issue_type", { enum: ["cve", "configuration"] }).notNull(),
    issueId: text("issue_id").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [unique("exemptions_uq").on(t.accountId, t.region, t.scope, t.issueType, t.issueId)],
);
