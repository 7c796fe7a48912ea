import type { DbOrTx } from "@berth/db";
import { type SQL, sql } from "drizzle-orm";
import type { CredentialSource } from "../auth/credential";
import { type Holding, stillHoldsSql } from "../auth/holds";
import { accountId, nowOf, type RegistryContext } from "../context";

/*
 * The reads of a pull (manifest GET, blob HEAD and GET) and the chunks of an upload ask
 * whether a bearer token's credential still holds (auth/holds.ts) in their own query instead
 * of before it, one round trip less per request: given the token's `unconfirmed` source,
 * they answer null when it no longer holds, having written nothing, and the request is
 * refused as unauthenticated.
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

function holdingOf(ctx: RegistryContext, source: CredentialSource): Holding {
  return {
    source,
    accountId: accountId(ctx),
    userId: ctx.principal.user.id,
    region: ctx.region,
    now: nowOf(ctx).toISOString(),
  };
}

/**
 * SQL that is true while the request's credential holds, as verifyBearer checks it. Without
 * a source (the credential was checked already): true.
 */
export function credentialHoldsSql(
  ctx: RegistryContext,
  source: CredentialSource | undefined,
): SQL {
  return source ? stillHoldsSql(holdingOf(ctx, source)) : sql`true`;
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
