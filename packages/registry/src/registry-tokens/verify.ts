import type { Db } from "@berth/db";
import { accounts, registryTokens } from "@berth/db";
import { and, eq } from "drizzle-orm";
import { staleUse } from "../accounts/accounts";
import { hashSecret, secretMatches } from "../accounts/secrets";
import type { Principal } from "../context";
import { REGISTRY_TOKEN_USERNAME } from "./model";

export interface VerifiedRegistryToken {
  tokenId: string;
  region: string;
  access: "read" | "readwrite";
  /** Null for a non-expiring token. */
  expiresAt: Date | null;
  principal: Principal;
}

type Row = { token: typeof registryTokens.$inferSelect; accountName: string };

/**
 * The token a registry client presents (user `token`, the secret as password), or null
 * when unknown, expired, or issued for another region. The caller decides what `read`
 * and `readwrite` allow.
 */
export async function verifyRegistryToken(
  db: Db,
  secret: string,
  opts: { region: string; now?: Date },
): Promise<VerifiedRegistryToken | null> {
  if (typeof secret !== "string" || secret === "" || secret.length > 512) return null;
  const rows = await db
    .select({ token: registryTokens, accountName: accounts.name })
    .from(registryTokens)
    .innerJoin(accounts, eq(accounts.id, registryTokens.accountId))
    .where(eq(registryTokens.secretHash, hashSecret(secret)))
    .limit(1);
  const row = rows[0];
  if (!row || !secretMatches(secret, row.token.secretHash)) return null;
  const verified = usable(row, opts);
  if (!verified) return null;
  const now = opts.now ?? new Date();
  void db
    .update(registryTokens)
    .set({ lastUsedAt: now })
    .where(and(eq(registryTokens.id, row.token.id), staleUse(registryTokens.lastUsedAt)))
    .catch(() => {});
  return verified;
}

function usable(row: Row, opts: { region: string; now?: Date }): VerifiedRegistryToken | null {
  const now = opts.now ?? new Date();
  if (row.token.expiresAt && row.token.expiresAt.getTime() <= now.getTime()) return null;
  if (row.token.region !== opts.region) return null;
  return {
    tokenId: row.token.id,
    region: row.token.region,
    access: row.token.access,
    expiresAt: row.token.expiresAt,
    principal: {
      account: { id: row.token.accountId, name: row.accountName },
      // A registry token acts as a service id of its own; its id names it in events.
      user: {
        id: `registrytoken-${row.token.id}`,
        name: REGISTRY_TOKEN_USERNAME,
        kind: "serviceid",
      },
      credentialType: "token",
    },
  };
}
