import { DEFAULT_PLAN, effectiveLimits, type PlanName } from "@berth/core";
import { sql } from "drizzle-orm";
import type { CredentialSource } from "../../auth/credential";
import { accountId, type RegistryContext } from "../../context";
import { recordRefusal } from "../audit";
import { CredentialGoneError, credentialHoldsSql } from "../credential-holds";
import { OciFailure } from "../errors";
import { checkStorageQuota } from "../quota";
import { notYourNamespace, ociRepositoryName } from "../repository";

/** Open upload sessions an account may hold at once; more is TOOMANYREQUESTS. */
export const MAX_OPEN_UPLOADS = 1000;

interface PushStart {
  namespaceId: string;
  repositoryId: string | null;
  plan: PlanName | null;
  storageMb: number | null;
  trafficMb: number | null;
  openUploads: number;
}

/**
 * Where pushes start, in one query (a push starts once per blob): the caller's namespace
 * and repository, its plan and quotas, and how many uploads it has open. A refused start
 * (not the caller's namespace, storage quota reached, too many open uploads) is a failed
 * `image.push` attempt and writes its failure event.
 */
export async function startChecks(
  ctx: RegistryContext,
  repository: string,
  opts: {
    countUploads?: boolean;
    /** A bearer token's credential not looked up yet: checked in this query, first. */
    unconfirmed?: CredentialSource;
  } = {},
) {
  const name = ociRepositoryName(repository);
  const account = accountId(ctx);
  // One row whatever is found, so that a gone credential is told apart from a namespace
  // that is not the caller's.
  const rows = await ctx.db.execute<{
    alive: boolean;
    namespace_id: string | null;
    repository_id: string | null;
    plan: PlanName | null;
    storage_mb: number | null;
    traffic_mb: number | null;
    open_uploads: number | null;
  }>(sql`
    select ${credentialHoldsSql(ctx, opts.unconfirmed)} as alive, x.*
      from (select 1) one
      left join (
        select n.id as namespace_id, r.id as repository_id, p.plan,
               q.storage_mb, q.traffic_mb,
               ${
                 opts.countUploads
                   ? sql`(select count(*)::int from upload_sessions s where s.account_id = ${account})`
                   : sql`0`
               } as open_uploads
          from namespaces n
          left join repositories r on r.namespace_id = n.id and r.name = ${name.name}
          left join plans p on p.account_id = ${account} and p.region = ${ctx.region}
          left join quotas q on q.account_id = ${account} and q.region = ${ctx.region}
         where n.account_id = ${account} and n.region = ${ctx.region} and n.name = ${name.namespace}
      ) x on true`);
  const found = rows[0]!;
  // Nothing about the namespace is told to a credential that no longer holds.
  if (!found.alive) throw new CredentialGoneError();
  if (found.namespace_id === null) throw notYourNamespace(ctx, name);
  const start: PushStart = {
    namespaceId: found.namespace_id,
    repositoryId: found.repository_id,
    plan: found.plan,
    storageMb: found.storage_mb,
    trafficMb: found.traffic_mb,
    openUploads: Number(found.open_uploads),
  };
  await checkStorageQuota(
    ctx.db,
    ctx,
    effectiveLimits(start.plan ?? DEFAULT_PLAN, {
      storageMb: start.storageMb,
      trafficMb: start.trafficMb,
    }),
  );
  if (start.openUploads >= MAX_OPEN_UPLOADS) {
    throw new OciFailure(
      "TOOMANYREQUESTS",
      `too many uploads in progress (at most ${MAX_OPEN_UPLOADS}); finish or cancel some first`,
    );
  }
  return { name, row: { namespaceId: start.namespaceId, repositoryId: start.repositoryId } };
}

export async function auditedStart<T>(
  ctx: RegistryContext,
  repository: string,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    // A gone credential is answered as unauthenticated: there is no account to audit under.
    if (error instanceof CredentialGoneError) throw error;
    throw await recordRefusal(ctx, "container-registry.image.push", repository, error);
  }
}
