import { sql } from "drizzle-orm";
import { index, pgTable, text, uuid } from "drizzle-orm/pg-core";
import { createdAt, ownerText, timestamptz } from "./columns";

export const accounts = pgTable("accounts", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: createdAt(),
});

/** People (or service ids) acting for an account; they become an event's initiator. */
export const users = pgTable(
  "users",
  {
    id: text("id").primaryKey(),
    accountId: ownerText("account_id", () => accounts.id),
    name: text("name").notNull(),
    kind: text("kind", { enum: ["user", "serviceid"] })
      .notNull()
      .default("user"),
    createdAt: createdAt(),
  },
  (t) => [index("users_account_idx").on(t.accountId)],
);

/**
 * API keys are stored only hashed; the key itself is shown once. `hash_scheme` says how:
 * `sha256` for keys Berth generated (256 random bits: nothing to guess, and found by their
 * hash on every request), `scrypt` (salted, slow) for keys an operator chose
 * (BERTH_DEV_API_KEY), which may be guessable. A scrypt row is found by `fingerprint`, a few
 * bits of the key's SHA-256, so a lookup tries few rows (accounts/secrets.ts says what that
 * costs).
 */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: uuid("id").primaryKey(),
    accountId: ownerText("account_id", () => accounts.id),
    userId: ownerText("user_id", () => users.id),
    description: text("description").notNull().default(""),
    keyHash: text("key_hash").notNull().unique(),
    hashScheme: text("hash_scheme", { enum: ["sha256", "scrypt"] })
      .notNull()
      .default("sha256"),
    fingerprint: text("fingerprint"),
    createdAt: createdAt(),
    lastUsedAt: timestamptz("last_used_at"),
  },
  (t) => [
    index("api_keys_account_idx").on(t.accountId),
    index("api_keys_fingerprint_idx").on(t.fingerprint).where(sql`${t.hashScheme} = 'scrypt'`),
  ],
);
