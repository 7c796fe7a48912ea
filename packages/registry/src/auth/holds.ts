import { apiKeys, type Db, perDb, registryTokens } from "@berth/db";
import { type Placeholder, type SQL, sql } from "drizzle-orm";
import { ALL_ACTIONS, type CredentialSource, READ_ONLY } from "./credential";
import type { RepositoryAction } from "./scope";

/*
 * A bearer token's signature says who made it; whether the API key or registry token it
 * was made from still holds takes the database. This file is the one definition of that
 * check: verifyBearer asks it on its own (allowedNow, a prepared query), and the reads of
 * a pull and the chunks of an upload fold it into their own first query (stillHoldsSql),
 * one round trip less per request.
 */

/** Whose credential a bearer token names, and where and when it is presented. */
export interface Holding {
  source: CredentialSource;
  /** The token's account: the credential must still be this account's. */
  accountId: string;
  /** The token's user: an API key must still be this user's. */
  userId: string;
  /** The endpoint's region: a registry token holds only in its own. */
  region: string;
  /** ISO time of the request: a registry token holds until it expires. */
  now: string;
}

type Arg = string | Placeholder;

/*
 * The conditions are written as SQL text rather than with drizzle's column operators: they
 * are rendered on every pull, and the operators cost ten times as much (about 20 us against
 * 2 us a request).
 */

/** The API key's row of the token's account and user, while the key exists. */
function apiKeyHolds(p: { id: Arg; accountId: Arg; userId: Arg }): SQL {
  return sql`api_keys.id = ${p.id} and api_keys.account_id = ${p.accountId}
             and api_keys.user_id = ${p.userId}`;
}

/** The registry token's row of the token's account, in this region, not expired. */
function registryTokenHolds(p: { id: Arg; accountId: Arg; region: Arg; now: Arg }): SQL {
  return sql`registry_tokens.id = ${p.id} and registry_tokens.account_id = ${p.accountId}
             and registry_tokens.region = ${p.region}
             and (registry_tokens.expires_at is null
                  or registry_tokens.expires_at > ${p.now}::timestamptz)`;
}

/**
 * SQL that is true while the credential holds, to fold into a query of the request's own:
 * either kind allows a pull, whatever its access now.
 */
export function stillHoldsSql(h: Holding): SQL {
  if (h.source.kind === "apikey") {
    const holds = apiKeyHolds({ id: h.source.id, accountId: h.accountId, userId: h.userId });
    return sql`exists (select 1 from api_keys where ${holds})`;
  }
  const holds = registryTokenHolds({
    id: h.source.id,
    accountId: h.accountId,
    region: h.region,
    now: h.now,
  });
  return sql`exists (select 1 from registry_tokens where ${holds})`;
}

const placeholders = {
  id: sql.placeholder("id"),
  accountId: sql.placeholder("accountId"),
  userId: sql.placeholder("userId"),
  region: sql.placeholder("region"),
  now: sql.placeholder("now"),
};

const apiKeyQuery = perDb((db) =>
  db
    .select({ id: apiKeys.id })
    .from(apiKeys)
    .where(apiKeyHolds(placeholders))
    .limit(1)
    .prepare("api_key_holds"),
);

const registryTokenQuery = perDb((db) =>
  db
    .select({ access: registryTokens.access })
    .from(registryTokens)
    .where(registryTokenHolds(placeholders))
    .limit(1)
    .prepare("registry_token_holds"),
);

/**
 * What the credential allows now (an API key: everything; a registry token: what its
 * access says), or null when it no longer holds. One prepared query.
 */
export async function allowedNow(db: Db, h: Holding): Promise<readonly RepositoryAction[] | null> {
  const args = {
    id: h.source.id,
    accountId: h.accountId,
    userId: h.userId,
    region: h.region,
    now: h.now,
  };
  if (h.source.kind === "apikey") {
    const rows = await apiKeyQuery(db).execute(args);
    return rows.length === 1 ? ALL_ACTIONS : null;
  }
  const rows = await registryTokenQuery(db).execute(args);
  const row = rows[0];
  if (!row) return null;
  return row.access === "readwrite" ? ALL_ACTIONS : READ_ONLY;
}
