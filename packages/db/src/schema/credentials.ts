import { index, pgTable, text, unique } from "drizzle-orm/pg-core";
import { createdAt, timestamptz } from "./columns";
import { accountResource } from "./owned";

/** Registry tokens: the secret is shown once at creation and stored only as a hash. */
export const registryTokens = pgTable(
  "registry_tokens",
  {
    ...accountResource(),
    description: text("description").notNull().default(""),
    access: text("access", { enum: ["read", "readwrite"] }).notNull(),
    secretHash: text("secret_hash").notNull().unique(),
    expiresAt: timestamptz("expires_at"),
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
    lastUsedAt: timestamptz("last_used_at"),
  },
  (t) => [index("registry_tokens_account_region_idx").on(t.accountId, t.region)],
);

export const exemptions = pgTable(
  "exemptions",
  {
    ...accountResource(),
    scope: text("scope").notNull(),
    issueType: text("issue_type", { enum: ["cve", "configuration"] }).notNull(),
    issueId: text("issue_id").notNull(),
    createdBy: text("created_by").notNull(),
    createdAt: createdAt(),
  },
  (t) => [unique("exemptions_uq").on(t.accountId, t.region, t.scope, t.issueType, t.issueId)],
);
