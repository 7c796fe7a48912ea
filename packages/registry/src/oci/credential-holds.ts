import type { DbOrTx } from "@berth/db";
import { type SQL, sql } from "drizzle-orm";
import type { CredentialSource } from "../auth/credential";
import { accountId, nowOf, type RegistryContext } from "../context";

/*
 * A bearer token's signature says who made it; whether the API key or registry token it
 * was made from still holds takes a query (verifyBearer). The reads of a pull (manifest
 * GET, blob HEAD and GET) ask it in their own query instead, one round trip less per
 * request: given the token's `unconfirmed` source, they answer null when it no longer
 * holds, having written nothing, and the request is refused as unauthenticated.
 */

/**
 * Thrown when a request's `unconfirmed` credential turns out to be gone: the request is
 * answered as one with an invalid token (and nothing was written for it).
 */
export class CredentialGoneError extends Error {
  override readonly name = "CredentialGoneError";
  constructor() {
    super("the credential behind the bearer token no longer holds");
  }
}

/**
 * SQL that is true while the credential holds, as `verifyBearer` checks it: the API key's
 * row (of the token's account and user), or the registry token's (of the account, for this
 * region, not expired). Either allows a pull, whatever its access now. Without a source
 * (the credential was checked already): true.
 */
export function credentialHoldsSql(
  ctx: RegistryContext,
  source: CredentialSource | undefined,
): SQL {
  if (!source) return sql`true`;
  const account = accountId(ctx);
  if (source.kind === "apikey") {
    return sql`exists (select 1 from api_keys k where k.id = ${source.id}
                          and k.account_id = ${account} and k.user_id = ${ctx.principal.user.id})`;
  }
  return sql`exists (select 1 from registry_tokens t where t.id = ${source.id}
                        and t.account_id = ${account} and t.region = ${ctx.region}
                        and (t.expires_at is null or t.expires_at > ${nowOf(ctx).toISOString()}::timestamptz))`;
}

/** Whether the credential holds, asked on its own (when a request fails before its query). */
export async function credentialHolds(
  tx: DbOrTx,
  ctx: RegistryContext,
  source: CredentialSource,
): Promise<boolean> {
  const rows = await tx.execute<{ alive: boolean }>(
    sql`select ${credentialHoldsSql(ctx, source)} as alive`,
  );
  return rows[0]?.alive === true;
}
