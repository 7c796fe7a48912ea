import { createHash } from "node:crypto";
import { apiKeys } from "@berth/db";
import { basic, until } from "@berth/harness";
import { createAccount, ensureDevAccount } from "@berth/registry";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { forFile, startTestServer } from "./helpers";

// An API key an operator chose (BERTH_DEV_API_KEY) may be guessable, so it is stored with a
// salted slow KDF (scrypt), not SHA-256: whoever reads the table cannot test guesses at
// SHA-256 speed. Generated keys (256 random bits) stay SHA-256, found by an index lookup.

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const CHOSEN = "correct-horse-battery-staple-dev";

const env = await forFile(startTestServer({ authLimit: { maxFailures: 0 } }));
const { t, alice } = env;
const url = env.url();
await ensureDevAccount(t.db, { apiKey: CHOSEN });

/** Status of the key on each surface: tRPC, /v2 with Basic, /token. */
async function statuses(key: string): Promise<number[]> {
  const trpc = await fetch(`${url}/trpc/namespace.list`, {
    headers: { authorization: `Bearer ${key}` },
  });
  const v2 = await fetch(`${url}/v2/`, { headers: { authorization: basic("iamapikey", key) } });
  const token = await fetch(`${url}/token?scope=repository:devns/app:pull`, {
    headers: { authorization: basic("iamapikey", key) },
  });
  return [trpc.status, v2.status, token.status];
}

/** A wrong key in the same fingerprint bucket as `key`, so the lookup has to try scrypt. */
function wrongKeyLike(key: string): string {
  for (let i = 0; ; i++) {
    const candidate = `${key}-wrong-${i}`;
    if (sha256(candidate)[0] === sha256(key)[0]) return candidate;
  }
}

describe("an API key the operator chose", () => {
  it("is stored with scrypt and a salt, not as its SHA-256, and says so in its row", async () => {
    const rows = await t.db
      .select()
      .from(apiKeys)
      .where(eq(apiKeys.description, "created with the account"));
    const dev = rows.find((r) => r.accountId === "devaccount")!;
    expect(dev.hashScheme).toBe("scrypt");
    expect(dev.keyHash).not.toBe(sha256(CHOSEN));
    expect(dev.keyHash).not.toContain(sha256(CHOSEN));
    expect(dev.keyHash).toMatch(/^\$scrypt\$ln=15,r=8,p=1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(dev.fingerprint).toMatch(/^[0-9a-f]$/);
    // Generated keys stay SHA-256: 256 random bits leave nothing to guess.
    const [generated] = await t.db
      .select()
      .from(apiKeys)
      .where(eq(apiKeys.accountId, alice.account.id));
    expect(generated!.hashScheme).toBe("sha256");
    expect(generated!.keyHash).toBe(sha256(alice.apiKey));
    // Each key has its own salt.
    const again = await createAccount(t.db, { name: "twin", apiKey: `${CHOSEN}-twin` });
    const [twin] = await t.db.select().from(apiKeys).where(eq(apiKeys.accountId, again.account.id));
    expect(twin!.hashScheme).toBe("scrypt");
    expect(twin!.keyHash.split("$")[3]).not.toBe(dev.keyHash.split("$")[3]);
    // Salted hashes never collide, so the unique index no longer stops a key being chosen
    // twice: creating does.
    await expect(createAccount(t.db, { name: "copycat", apiKey: CHOSEN })).rejects.toThrow(
      /already in use/,
    );
  });

  it("works on every surface, and a wrong key (even of its fingerprint) does not", async () => {
    expect(await statuses(CHOSEN)).toEqual([200, 200, 200]);
    expect(await statuses(CHOSEN)).toEqual([200, 200, 200]);
    expect(await statuses(wrongKeyLike(CHOSEN))).toEqual([401, 401, 401]);
    expect(await statuses(CHOSEN.slice(0, -1))).toEqual([401, 401, 401]);
    expect(await statuses(sha256(CHOSEN))).toEqual([401, 401, 401]);
    expect(await statuses(alice.apiKey)).toEqual([200, 200, 200]);
  });

  it("stored as SHA-256 by an older version, is rehashed with scrypt at its next use", async () => {
    const legacy = "an-older-chosen-key-0123456789";
    const old = await createAccount(t.db, { name: "legacy" });
    await t.db
      .update(apiKeys)
      .set({ keyHash: sha256(legacy), hashScheme: "sha256", fingerprint: null })
      .where(eq(apiKeys.accountId, old.account.id));
    expect(await statuses(legacy)).toEqual([200, 200, 200]);
    const row = await until(
      "the legacy row to be rehashed with scrypt",
      async () => {
        const [r] = await t.db.select().from(apiKeys).where(eq(apiKeys.accountId, old.account.id));
        return r?.hashScheme === "scrypt" ? r : undefined;
      },
      30_000,
    );
    expect(row.keyHash).not.toContain(sha256(legacy));
    expect(await statuses(legacy)).toEqual([200, 200, 200]);
    expect(await statuses(wrongKeyLike(legacy))).toEqual([401, 401, 401]);
  });
});
