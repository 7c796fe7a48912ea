import {
  DEFAULT_PLAN,
  effectiveLimits,
  type PlanName,
  quotaAllows,
  type RepositoryName,
  TRAFFIC_QUOTA_MESSAGE,
  trafficMonth,
} from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { sql } from "drizzle-orm";
import { runAuditedRead } from "../audit";
import type { CredentialSource } from "../auth/credential";
import { accountId, nowOf, type RegistryContext } from "../context";
import { RegistryError } from "../errors";
import { imageTarget } from "../images/resolve";
import { pullTimeStale, recordPull } from "../retention/pulls";
import { credentialHolds, credentialHoldsSql } from "./credential-holds";
import { OciFailure, ociFailureOf } from "./errors";
import {
  existingRef,
  type ManifestInfo,
  type ManifestRead,
  refuseUnaccepted,
  unknownManifest,
} from "./manifests";
import { countFetchTraffic } from "./quota";
import { type ManifestRef, ociRepositoryName, requestedImageName } from "./repository";

export interface PulledManifest extends ManifestInfo {
  content: Buffer;
  /**
   * The count of the manifest's bytes as pull traffic, started once the pull's event has
   * committed and not awaited before the answer (as a blob GET's count is not): it settles
   * once counted, and rejects when the bytes could not be counted (the database went in
   * between), which the caller logs; the pull stands either way.
   */
  counted: Promise<void>;
}

/**
 * container-registry.image.pull, one per manifest GET: the pull-traffic quota is checked
 * first; the event commits, then the manifest's bytes are counted as traffic as a blob
 * fetch's are (countFetchTraffic), while the answer goes out (`counted`). A GET changes
 * nothing but the pull's time for retention, and that only once per
 * PULL_RECORD_RESOLUTION_MS per image: it is an audited read
 * (runAuditedRead: its lookup on the pool, its event group-committed), and the rare GET that
 * finds the stored pull time stale writes it first, on its own (recordPull).
 */
export async function pullManifest(
  ctx: RegistryContext,
  input: ManifestRead,
): Promise<PulledManifest> {
  return (await pull(ctx, input))!;
}

/**
 * pullManifest for a bearer token whose credential was not looked up yet (credential-holds.ts):
 * null when it no longer holds; then nothing was written, no event either (the request is
 * unauthenticated).
 */
export function pullManifestConfirming(
  ctx: RegistryContext,
  input: ManifestRead,
  source: CredentialSource,
): Promise<PulledManifest | null> {
  return pull(ctx, input, source);
}

async function pull(
  ctx: RegistryContext,
  input: ManifestRead,
  unconfirmed?: CredentialSource,
): Promise<PulledManifest | null> {
  const pulled = await pullAudited(ctx, input, unconfirmed);
  if (!pulled) return null;
  const counted = countFetchTraffic(ctx.db, ctx, pulled.size);
  // Never an unhandled rejection, whatever the caller does with it.
  counted.catch(() => {});
  return { ...pulled, counted };
}

function pullAudited(
  ctx: RegistryContext,
  input: ManifestRead,
  unconfirmed: CredentialSource | undefined,
): Promise<Omit<PulledManifest, "counted"> | null> {
  const targetName = requestedImageName(input.repository, input.reference);
  return runAuditedRead<Omit<PulledManifest, "counted"> | null>(ctx, {
    action: "container-registry.image.pull",
    failure: () => [{ target: imageTarget(targetName), messageDetail: targetName }],
    read: async (db) => {
      const gone = { result: null, records: [] };
      try {
        let name: RepositoryName;
        let ref: ManifestRef;
        try {
          name = ociRepositoryName(input.repository);
          ref = existingRef(name.name, input.reference);
        } catch (error) {
          // A refusal is an attempt of the credential's account only while it holds.
          if (unconfirmed && !(await credentialHolds(db, ctx, unconfirmed))) return gone;
          throw error;
        }
        const found = await pullLookup(db, ctx, name, ref, unconfirmed);
        if (!found.alive) return gone;
        if (!found.repository) {
          throw new OciFailure(
            "NAME_UNKNOWN",
            `repository ${name.name} is not known in region ${ctx.region}`,
          );
        }
        const limits = effectiveLimits(found.plan ?? DEFAULT_PLAN, {
          storageMb: found.storageMb,
          trafficMb: found.trafficMb,
        });
        if (!quotaAllows(found.trafficBytes, limits.pullTrafficBytes)) {
          throw new RegistryError("QUOTA_EXCEEDED", TRAFFIC_QUOTA_MESSAGE);
        }
        if (!found.manifest) throw unknownManifest(name.name, input.reference);
        refuseUnaccepted(name.name, input.reference, found.manifest.mediaType, input.accept);
        const m = found.manifest;
        // Before the event, as it was in the event's transaction: a pull whose time could
        // not be kept fails, rather than leave its image to a retention run unprotected.
        if (pullTimeStale(found.pulledAt, nowOf(ctx))) await recordPull(db, ctx, name, m.digest);
        return {
          result: { digest: m.digest, mediaType: m.mediaType, size: m.size, content: m.content },
          records: [
            {
              target: imageTarget(targetName, name.name, m.digest),
              messageDetail: targetName,
              responseData: { digest: m.digest, mediaType: m.mediaType, size: m.size },
            },
          ],
        };
      } catch (error) {
        throw ociFailureOf(error);
      }
    },
  });
}

interface PullLookup {
  /** Whether the credential still holds (always, when it was confirmed before). */
  alive: boolean;
  /** Whether the caller has a repository of that name. */
  repository: boolean;
  plan: PlanName | null;
  storageMb: number | null;
  trafficMb: number | null;
  trafficBytes: number;
  /** When the manifest's pull was last recorded for retention (null: never). */
  pulledAt: Date | null;
  manifest: { digest: string; mediaType: string; size: number; content: Buffer } | null;
}

/**
 * What a pull needs, in one query: whether the credential still holds, the caller's
 * repository, its plan, quotas and traffic this month, and the manifest (null when unknown).
 */
async function pullLookup(
  tx: DbOrTx,
  ctx: RegistryContext,
  name: RepositoryName,
  ref: ManifestRef,
  unconfirmed: CredentialSource | undefined,
): Promise<PullLookup> {
  const account = accountId(ctx);
  const manifest = ref.digest
    ? sql`select m.digest, m.media_type, m.size, m.content from manifests m
           where m.repository_id = r.id and m.digest = ${ref.digest}`
    : sql`select m.digest, m.media_type, m.size, m.content from tags t
            join manifests m on m.id = t.manifest_id
           where t.repository_id = r.id and t.name = ${ref.tag}`;
  const rows = await tx.execute<{
    alive: boolean;
    repository: boolean;
    plan: PlanName | null;
    storage_mb: number | null;
    traffic_mb: number | null;
    traffic: string | number | null;
    digest: string | null;
    media_type: string | null;
    size: number | null;
    content: Buffer | null;
    pulled_at: string | Date | null;
  }>(sql`
    select ${credentialHoldsSql(ctx, unconfirmed)} as alive, r.id is not null as repository,
           p.plan, q.storage_mb, q.traffic_mb, pt.bytes as traffic,
           m.digest, m.media_type, m.size, m.content,
           (select mp.last_pulled_at from manifest_pulls mp
             where mp.repository_id = r.id and mp.digest = m.digest) as pulled_at
      from (select 1) one
      left join (namespaces n join repositories r on r.namespace_id = n.id and r.name = ${name.name})
             on n.account_id = ${account} and n.region = ${ctx.region} and n.name = ${name.namespace}
      left join lateral (${manifest} limit 1) m on true
      left join plans p on p.account_id = ${account} and p.region = ${ctx.region}
      left join quotas q on q.account_id = ${account} and q.region = ${ctx.region}
      left join pull_traffic pt on pt.account_id = ${account} and pt.region = ${ctx.region}
                               and pt.month = ${trafficMonth(nowOf(ctx))}`);
  const row = rows[0]!;
  return {
    alive: row.alive,
    repository: row.repository,
    plan: row.plan,
    storageMb: row.storage_mb,
    trafficMb: row.traffic_mb,
    trafficBytes: Number(row.traffic ?? 0),
    pulledAt: row.pulled_at === null ? null : new Date(row.pulled_at),
    manifest:
      row.digest && row.media_type && row.size !== null && row.content
        ? {
            digest: row.digest,
            mediaType: row.media_type,
            size: Number(row.size),
            // postgres.js gives bytea as a Buffer already: served as it is, not copied.
            content: Buffer.isBuffer(row.content) ? row.content : Buffer.from(row.content),
          }
        : null,
  };
}
