import type { ReadStream } from "node:fs";
import type { Readable } from "node:stream";
import type { DbOrTx } from "@berth/db";
import { blobs, namespaces, perDb, repositories, repositoryBlobs } from "@berth/db";
import { and, eq, sql } from "drizzle-orm";
import { runAudited, safeName } from "../audit";
import type { CredentialSource } from "../auth/credential";
import { accountId, type RegistryContext } from "../context";
import { manifestsReferencing } from "../images/records";
import { imageTarget } from "../images/resolve";
import type { BlobInfo } from "../storage/blob-store";
import { streamBlob } from "../storage/read";
import { credentialHoldsSql } from "./credential-holds";
import { OciFailure, ociFailureOf } from "./errors";
import { countFetchTraffic } from "./quota";
import { ociDigest, ociRepositoryName, readableRepository } from "./repository";

export interface BlobRequest {
  repository: string;
  digest: string;
  /** A bearer token's credential not looked up yet: checked in the blob's own query. */
  unconfirmed?: CredentialSource;
}

/** A blob linked into a repository, with its recorded size; null when not linked there. */
export async function linkedBlob(
  tx: DbOrTx,
  repositoryId: string,
  digest: string,
): Promise<BlobInfo | null> {
  const rows = await tx
    .select({ digest: blobs.digest, size: blobs.size })
    .from(repositoryBlobs)
    .innerJoin(blobs, eq(blobs.digest, repositoryBlobs.digest))
    .where(and(eq(repositoryBlobs.repositoryId, repositoryId), eq(repositoryBlobs.digest, digest)))
    .limit(1);
  return rows[0] ?? null;
}

/** Null when the request's `unconfirmed` credential no longer holds (credential-holds.ts). */
async function requireBlob(
  ctx: RegistryContext,
  input: BlobRequest,
  /** Whether to tell NAME_UNKNOWN from BLOB_UNKNOWN (a HEAD answer has no body to tell it in). */
  explain = true,
): Promise<BlobInfo | null> {
  const { unconfirmed } = input;
  // Unaudited: a refusal here of a credential that no longer holds is turned into the
  // unauthenticated answer by the caller, which asks about the credential then.
  const name = ociRepositoryName(input.repository);
  ociDigest(input.digest);
  const key = {
    region: ctx.region,
    namespace: name.namespace,
    account: accountId(ctx),
    repository: name.name,
    digest: input.digest,
  };
  // One query on the path every layer fetch takes; telling why it failed can take two.
  let found: BlobInfo | undefined;
  if (unconfirmed) {
    const rows = await ctx.db.execute<{
      alive: boolean;
      digest: string | null;
      size: number | null;
    }>(sql`
      select ${credentialHoldsSql(ctx, unconfirmed)} as alive, b.digest, b.size
        from (select 1) one
        left join (namespaces n
                   join repositories r on r.namespace_id = n.id and r.name = ${key.repository}
                   join repository_blobs rb on rb.repository_id = r.id and rb.digest = ${key.digest}
                   join blobs b on b.digest = rb.digest)
               on n.region = ${key.region} and n.name = ${key.namespace} and n.account_id = ${key.account}
       limit 1`);
    const row = rows[0]!;
    if (!row.alive) return null;
    if (row.digest !== null && row.size !== null)
      found = { digest: row.digest, size: Number(row.size) };
  } else {
    found = (await repositoryBlobQuery(ctx.db).execute(key))[0];
  }
  if (found) return found;
  if (explain) await readableRepository(ctx.db, ctx, name);
  throw new OciFailure(
    "BLOB_UNKNOWN",
    `blob ${input.digest} is not known in repository ${name.name}`,
  );
}

/** Built once: every layer fetch runs it, and drizzle would build its SQL every time. */
const repositoryBlobQuery = perDb((db) =>
  db
    .select({ digest: blobs.digest, size: blobs.size })
    .from(namespaces)
    .innerJoin(
      repositories,
      and(
        eq(repositories.namespaceId, namespaces.id),
        eq(repositories.name, sql.placeholder("repository")),
      ),
    )
    .innerJoin(
      repositoryBlobs,
      and(
        eq(repositoryBlobs.repositoryId, repositories.id),
        eq(repositoryBlobs.digest, sql.placeholder("digest")),
      ),
    )
    .innerJoin(blobs, eq(blobs.digest, repositoryBlobs.digest))
    .where(
      and(
        eq(namespaces.region, sql.placeholder("region")),
        eq(namespaces.name, sql.placeholder("namespace")),
        eq(namespaces.accountId, sql.placeholder("account")),
      ),
    )
    .limit(1)
    .prepare("repository_blob"),
);

/** Size of a blob of the repository (HEAD); null when `unconfirmed` no longer holds. */
export async function statBlob(ctx: RegistryContext, input: BlobRequest): Promise<BlobInfo | null> {
  try {
    return await requireBlob(ctx, input, false);
  } catch (error) {
    throw ociFailureOf(error);
  }
}

/** A byte range as asked: `start-end` (end inclusive, optional) or the last `suffix` bytes. */
export type RequestedRange = { start: number; end?: number } | { suffix: number };

/** How long a redirect to the storage (a presigned URL) stays valid. */
export const BLOB_REDIRECT_SECONDS = 300;

/** A blob whose bytes the storage serves itself: the client is sent there (307). */
export interface RedirectedBlob extends BlobInfo {
  redirect: string;
}

export interface OpenedBlob extends BlobInfo {
  stream: Readable;
  /** The served range, inclusive, when a range was asked for. */
  range?: { start: number; end: number };
  /** Bytes the response holds. */
  length: number;
}

/**
 * The bytes of a blob of the repository, or of a range of it. Blob fetches are not audited
 * (one pull event per manifest), but their bytes count as pull traffic: call
 * `countServedBytes` when the response is done. Null when `unconfirmed` no longer holds.
 */
export async function openBlob(
  ctx: RegistryContext,
  input: BlobRequest & { range?: RequestedRange; allowRedirect?: boolean },
): Promise<OpenedBlob | RedirectedBlob | null> {
  try {
    const blob = await requireBlob(ctx, input);
    if (!blob) return null;
    // Checked (repository, account, region) above like any read; the URL names this blob only.
    if (input.allowRedirect && ctx.store.presign) {
      const redirect = await ctx.store.presign(blob.digest, {
        expiresInSeconds: BLOB_REDIRECT_SECONDS,
      });
      return { ...blob, redirect };
    }
    if (!input.range) {
      const stream = await streamBlob(ctx.store, blob.digest);
      return { ...blob, stream, length: blob.size };
    }
    const asked = input.range;
    const start = "suffix" in asked ? Math.max(0, blob.size - asked.suffix) : asked.start;
    const end =
      "suffix" in asked ? blob.size - 1 : Math.min(asked.end ?? blob.size - 1, blob.size - 1);
    const range = { start, end };
    if (start > end || ("suffix" in asked && asked.suffix === 0)) {
      throw new OciFailure("RANGE_INVALID", `range is outside the ${blob.size}-byte blob`);
    }
    const stream = await streamBlob(ctx.store, blob.digest, range);
    return { ...blob, stream, range, length: end - range.start + 1 };
  } catch (error) {
    throw ociFailureOf(error);
  }
}

/** Bytes a blob stream actually read from storage (what reached the response). */
export function bytesRead(stream: Readable): number {
  const read = (stream as Partial<ReadStream>).bytesRead;
  return typeof read === "number" ? read : 0;
}

/** Count bytes served by blob fetches as pull traffic (no event: blob fetches are not audited). */
export async function countServedBytes(ctx: RegistryContext, bytes: number): Promise<void> {
  await countFetchTraffic(ctx.db, ctx, bytes);
}

/**
 * Unlink a blob from a repository (DELETE /v2/<name>/blobs/<digest>); the blob itself goes
 * at the next garbage collection if nothing else uses it. Refused (409) while a manifest of
 * the repository references it. Audited as container-registry.image.delete whose target is
 * the blob's digest in the repository (`requestData.kind` "blob").
 */
export function deleteBlob(ctx: RegistryContext, input: BlobRequest): Promise<void> {
  const targetName = safeName(`${input.repository}@${input.digest}`);
  return runAudited(ctx, {
    action: "container-registry.image.delete",
    failure: () => [{ target: imageTarget(targetName), messageDetail: `blob ${targetName}` }],
    execute: async (tx) => {
      try {
        const name = ociRepositoryName(input.repository);
        const digest = ociDigest(input.digest);
        const { repositoryId } = await readableRepository(tx, ctx, name);
        const blob = await linkedBlob(tx, repositoryId, digest);
        if (!blob) {
          throw new OciFailure(
            "BLOB_UNKNOWN",
            `blob ${digest} is not known in repository ${name.name}`,
          );
        }
        const [user] = await manifestsReferencing(tx, repositoryId, [digest], { limit: 1 });
        if (user) {
          throw new OciFailure(
            "DENIED",
            `blob ${digest} is used by manifest ${user.manifest}; delete the manifest first`,
            409,
          );
        }
        await tx
          .delete(repositoryBlobs)
          .where(
            and(eq(repositoryBlobs.repositoryId, repositoryId), eq(repositoryBlobs.digest, digest)),
          );
        return {
          result: undefined,
          records: [
            {
              target: imageTarget(targetName, name.name, digest),
              messageDetail: `blob ${targetName}`,
              status: 202,
              requestData: { kind: "blob" },
              responseData: { digest, size: blob.size },
            },
          ],
        };
      } catch (error) {
        throw ociFailureOf(error);
      }
    },
  });
}
