import { accounts, apiKeys } from "@berth/db";
import { createTestDatabase } from "@berth/db/testing";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { hashSecret } from "../src/accounts/secrets";
import {
  API_KEY_PREFIX,
  createAccount,
  DEV_ACCOUNT_ID,
  ensureDevAccount,
  resolveApiKey,
} from "../src/index";
import { forFile } from "./helpers";

const t = await forFile(createTestDatabase());

describe("accounts and API keys", () => {
  it("creates an account whose key is stored only as a hash and resolves to its user", async () => {
    const created = await createAccount(t.db, { name: "acme", userName: "ops@acme.test" });
    expect(created.apiKey.startsWith(API_KEY_PREFIX)).toBe(true);
    expect(created.account.id).toMatch(/^[0-9a-f]{32}$/);
    const rows = await t.db.select().from(apiKeys).where(eq(apiKeys.accountId, created.account.id));
    expect(rows).toHaveLength(1);
    expect(rows[0]!.keyHash).toBe(hashSecret(created.apiKey));
    expect(JSON.stringify(rows)).not.toContain(created.apiKey);
    const principal = await resolveApiKey(t.db, created.apiKey);
    expect(principal).toEqual({
      account: created.account,
      user: { id: created.user.id, name: "ops@acme.test", kind: "user" },
      credentialType: "apikey",
    });
  });

  it("resolves nothing for unknown, empty or altered keys", async () => {
    const created = await createAccount(t.db, { name: "other" });
    expect(await resolveApiKey(t.db, "")).toBeNull();
    expect(await resolveApiKey(t.db, `${created.apiKey}x`)).toBeNull();
    expect(await resolveApiKey(t.db, created.apiKey.slice(0, -1))).toBeNull();
    expect(await resolveApiKey(t.db, hashSecret(created.apiKey))).toBeNull();
  });

  it("creates the development account once, with a given or generated key", async () => {
    const first = await ensureDevAccount(t.db);
    expect(first.created).toBe(true);
    expect(first.apiKey).toBeDefined();
    const again = await ensureDevAccount(t.db);
    expect(again).toEqual({ account: first.account, created: false });
    expect((await resolveApiKey(t.db, first.apiKey!))?.account.id).toBe(DEV_ACCOUNT_ID);
    // A configured key is added to the existing account once.
    const configured = "berth-dev-key-configured-0123456789";
    const withKey = await ensureDevAccount(t.db, { apiKey: configured });
    expect(withKey.apiKey).toBe(configured);
    expect(await ensureDevAccount(t.db, { apiKey: configured })).toEqual({
      account: first.account,
      created: false,
    });
    expect((await resolveApiKey(t.db, configured))?.account.id).toBe(DEV_ACCOUNT_ID);
    expect(await t.db.select().from(accounts).where(eq(accounts.id, DEV_ACCOUNT_ID))).toHaveLength(
      1,
    );
  });

  it("refuses a configured dev key that belongs to another account", async () => {
    const other = await createAccount(t.db, { name: "someone" });
    await expect(ensureDevAccount(t.db, { apiKey: other.apiKey })).rejects.toThrow(
      /another account/,
    );
  });
});
