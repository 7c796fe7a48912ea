import { accounts, apiKeys, type Db, perDb, users } from "@berth/db";
import { and, eq, isNull, lt, or, type SQL, sql } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";
import { v7 as uuidv7 } from "uuid";
import type { Principal } from "../context";
import {
  API_KEY_PREFIX,
  chosenSecretMatches,
  fingerprintOf,
  GENERATED_API_KEY,
  generateSecret,
  hashChosenSecret,
  hashSecret,
  randomId,
  rememberChosen,
  rememberedChosen,
  secretMatches,
} from "./secrets";

export interface CreatedAccount {
  account: { id: string; name: string };
  user: { id: string; name: string };
  /** Shown once; only its hash is stored. */
  apiKey: string;
}

export interface CreateAccountInput {
  name: string;
  /** Name of the first user (an e-mail address, say); defaults to the account name. */
  userName?: string;
  /** Use this key instead of generating one (the dev account's configured key). */
  apiKey?: string;
  /** Account id; generated (32 hex, like the cloud's account ids) when omitted. */
  id?: string;
}

export const MIN_API_KEY_LENGTH = 20;

/**
 * Create an account with one user and one API key for that user, in one transaction.
 * Accounts are an IAM stand-in: managed by operators (admin CLI), not audited as registry
 * actions.
 */
export async function createAccount(db: Db, input: CreateAccountInput): Promise<CreatedAccount> {
  const name = input.name.trim();
  if (name === "") throw new Error("account name must not be empty");
  const apiKey = input.apiKey ?? generateSecret(API_KEY_PREFIX);
  checkApiKey(apiKey);
  if (input.apiKey !== undefined) await checkChosenKeyUnused(db, apiKey);
  const stored = await storedKey(apiKey, input.apiKey !== undefined);
  const account = { id: input.id ?? randomId(16), name };
  const user = { id: `user-${randomId(8)}`, name: input.userName?.trim() || name };
  await db.transaction(async (tx) => {
    await tx.insert(accounts).values(account);
    await tx.insert(users).values({ ...user, accountId: account.id, kind: "user" });
    await tx.insert(apiKeys).values({
      id: uuidv7(),
      accountId: account.id,
      userId: user.id,
      description: "created with the account",
      ...stored,
    });
  });
  return { account, user, apiKey };
}

/** Add an API key for an existing user; returns the key, shown once. */
export async function createApiKey(
  db: Db,
  input: { accountId: string; userId: string; description?: string; apiKey?: string },
): Promise<string> {
  const apiKey = input.apiKey ?? generateSecret(API_KEY_PREFIX);
  checkApiKey(apiKey);
  if (input.apiKey !== undefined) await checkChosenKeyUnused(db, apiKey);
  await db.insert(apiKeys).values({
    id: uuidv7(),
    accountId: input.accountId,
    userId: input.userId,
    description: input.description ?? "",
    ...(await storedKey(apiKey, input.apiKey !== undefined)),
  });
  return apiKey;
}

/**
 * A chosen key must not be another's: salted hashes never collide, so the unique index on
 * the hash (which keeps generated keys apart) cannot tell.
 */
async function checkChosenKeyUnused(db: Db, apiKey: string): Promise<void> {
  if (await verifyApiKey(db, apiKey)) throw new Error("that API key is already in use");
}

/** The columns that store a key: SHA-256 for generated keys, scrypt for chosen ones. */
async function storedKey(
  apiKey: string,
  chosen: boolean,
): Promise<Pick<typeof apiKeys.$inferInsert, "keyHash" | "hashScheme" | "fingerprint">> {
  if (!chosen) return { keyHash: hashSecret(apiKey), hashScheme: "sha256", fingerprint: null };
  return {
    keyHash: await hashChosenSecret(apiKey),
    hashScheme: "scrypt",
    fingerprint: fingerprintOf(apiKey),
  };
}

function checkApiKey(apiKey: string): void {
  if (apiKey.length < MIN_API_KEY_LENGTH || /\s/.test(apiKey)) {
    throw new Error(
      `an API key must be at least ${MIN_API_KEY_LENGTH} characters without whitespace`,
    );
  }
}

/** The account and user an API key acts for, or null when the key is unknown. */
export async function resolveApiKey(db: Db, apiKey: string): Promise<Principal | null> {
  return (await verifyApiKey(db, apiKey))?.principal ?? null;
}

/** An API key's row id and the principal it acts for, or null when the key is unknown. */
export async function verifyApiKey(
  db: Db,
  apiKey: string,
): Promise<{ keyId: string; principal: Principal } | null> {
  if (typeof apiKey !== "string" || apiKey === "" || apiKey.length > 512) return null;
  // A generated key's row by its hash (an index lookup, the common case), and the chosen
  // keys' rows of its fingerprint's bucket, in one query.
  const rows = await keyRowsQuery(db).execute({
    hash: hashSecret(apiKey),
    fingerprint: fingerprintOf(apiKey),
  });
  // The generated key's row first: it costs no scrypt.
  rows.sort((a, b) => Number(a.hashScheme === "scrypt") - Number(b.hashScheme === "scrypt"));
  let row: (typeof rows)[number] | undefined;
  for (const candidate of rows) {
    if (await keyMatches(apiKey, candidate)) {
      row = candidate;
      break;
    }
  }
  if (!row) return null;
  if (row.hashScheme === "sha256" && !GENERATED_API_KEY.test(apiKey)) {
    // A chosen key stored before keys were told apart: rehashed now that it is at hand.
    void upgradeChosenKey(db, row.keyId, row.keyHash, apiKey).catch(() => {});
  }
  noteKeyUse(db, row.keyId);
  return {
    keyId: row.keyId,
    principal: {
      account: { id: row.accountId, name: row.accountName },
      user: { id: row.userId, name: row.userName, kind: row.userKind },
      credentialType: "apikey",
    },
  };
}

const keyRowsQuery = perDb((db) =>
  db
    .select({
      keyId: apiKeys.id,
      keyHash: apiKeys.keyHash,
      hashScheme: apiKeys.hashScheme,
      accountId: accounts.id,
      accountName: accounts.name,
      userId: users.id,
      userName: users.name,
      userKind: users.kind,
    })
    .from(apiKeys)
    .innerJoin(accounts, eq(accounts.id, apiKeys.accountId))
    .innerJoin(users, eq(users.id, apiKeys.userId))
    .where(
      or(
        eq(apiKeys.keyHash, sql.placeholder("hash")),
        and(
          eq(apiKeys.hashScheme, "scrypt"),
          eq(apiKeys.fingerprint, sql.placeholder("fingerprint")),
        ),
      ),
    )
    .prepare("api_key_rows"),
);

/** When this process last wrote each key's last use (ms); bounded, see noteKeyUse. */
const lastUseWritten = new Map<string, number>();
const LAST_USE_EVERY_MS = 60_000;
const LAST_USE_REMEMBERED = 10_000;

/**
 * Last use is informational: written at most once a minute per key, off the request path.
 * The database's own condition keeps processes from writing it more often between them;
 * remembering what this process wrote spares a round trip on every other request.
 */
function noteKeyUse(db: Db, keyId: string): void {
  const now = Date.now();
  if (now - (lastUseWritten.get(keyId) ?? 0) < LAST_USE_EVERY_MS) return;
  if (lastUseWritten.size >= LAST_USE_REMEMBERED) lastUseWritten.clear();
  lastUseWritten.set(keyId, now);
  void db
    .update(apiKeys)
    .set({ lastUsedAt: new Date(now) })
    .where(and(eq(apiKeys.id, keyId), staleUse(apiKeys.lastUsedAt)))
    .catch(() => {});
}

async function keyMatches(
  apiKey: string,
  row: { keyHash: string; hashScheme: "sha256" | "scrypt" },
): Promise<boolean> {
  if (row.hashScheme === "sha256") return secretMatches(apiKey, row.keyHash);
  if (rememberedChosen(apiKey, row.keyHash)) return true;
  const ok = await chosenSecretMatches(apiKey, row.keyHash);
  if (ok) rememberChosen(apiKey, row.keyHash);
  return ok;
}

async function upgradeChosenKey(db: Db, id: string, oldHash: string, apiKey: string) {
  await db
    .update(apiKeys)
    .set(await storedKey(apiKey, true))
    .where(and(eq(apiKeys.id, id), eq(apiKeys.keyHash, oldHash)));
}

export const DEV_ACCOUNT_ID = "devaccount";

export interface DevAccount {
  account: { id: string; name: string };
  created: boolean;
  /** The key, when this call created it (generated or given); otherwise undefined. */
  apiKey?: string;
}

/**
 * The development account `pnpm start` uses, created on first run. With `apiKey` (from
 * BERTH_DEV_API_KEY) that key is registered for it if it is not already; without one a key
 * is generated only when the account is created, and returned that once.
 */
export async function ensureDevAccount(
  db: Db,
  opts: { apiKey?: string } = {},
): Promise<DevAccount> {
  const existing = await db.select().from(accounts).where(eq(accounts.id, DEV_ACCOUNT_ID));
  const account = existing[0];
  if (!account) {
    try {
      const created = await createAccount(db, {
        id: DEV_ACCOUNT_ID,
        name: "Development",
        userName: "developer@berth.local",
        ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
      });
      return { account: created.account, created: true, apiKey: created.apiKey };
    } catch (error) {
      // Another process created it at the same moment: fall through to the existing one.
      const again = await db.select().from(accounts).where(eq(accounts.id, DEV_ACCOUNT_ID));
      if (!again[0]) throw error;
      return ensureDevAccount(db, opts);
    }
  }
  const result: DevAccount = { account: { id: account.id, name: account.name }, created: false };
  const holder = opts.apiKey ? await resolveApiKey(db, opts.apiKey) : null;
  if (holder && holder.account.id !== DEV_ACCOUNT_ID) {
    throw new Error("BERTH_DEV_API_KEY is already the API key of another account");
  }
  if (opts.apiKey && !holder) {
    const [user] = await db
      .select()
      .from(users)
      .where(eq(users.accountId, DEV_ACCOUNT_ID))
      .limit(1);
    if (!user) throw new Error("the development account has no user");
    result.apiKey = await createApiKey(db, {
      accountId: DEV_ACCOUNT_ID,
      userId: user.id,
      description: "BERTH_DEV_API_KEY",
      apiKey: opts.apiKey,
    });
  }
  return result;
}

/** True when a last-use time is unset or more than a minute old. */
export function staleUse(column: PgColumn): SQL {
  return or(isNull(column), lt(column, sql`now() - interval '1 minute'`))!;
}
