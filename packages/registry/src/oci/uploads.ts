import type { Readable } from "node:stream";
import { namespaces, repositories, repositoryBlobs, uploadSessions } from "@berth/db";
import { and, count, eq } from "drizzle-orm";
import { v7 as uuidv7 } from "uuid";
import { accountId, nowOf, type RegistryContext } from "../context";
import { ensureRepository, holdBlobsAgainstGc, linkBlobs, recordBlob } from "../images/records";
import { type BlobInfo, DigestMismatchError, SizeMismatchError } from "../storage/blob-store";
import { uploadsOf } from "../storage/fs-uploads";
import { UploadNotFoundError, UploadOffsetError } from "../storage/uploads";
import { recordRefusal } from "./audit";
import { linkedBlob } from "./blobs";
import { relaxedCommit } from "./commit";
import { OciFailure, ociFailureOf } from "./errors";
import { checkStorageQuota } from "./quota";
import { ociRepositoryName, readableRepository, writableNamespace } from "./repository";

/** Open upload sessions an account may hold at once; more is TOOMANYREQUESTS. */
export const MAX_OPEN_UPLOADS = 1000;

const DIGEST = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function checkDigest(digest: string | undefined): string {
  if (!digest || !DIGEST.test(digest)) {
    throw new OciFailure(
      "DIGEST_INVALID",
      digest ? `"${digest}" is not a sha256 or sha512 digest` : "the digest parameter is missing",
    );
  }
  return digest;
}

/**
 * Where pushes start. A refused start (not the caller's namespace, storage quota reached,
 * too many open uploads) is a failed `image.push` attempt and writes its failure event.
 */
async function startChecks(ctx: RegistryContext, repository: string) {
  const name = ociRepositoryName(repository);
  const row = await writableNamespace(ctx.db, ctx, name);
  await checkStorageQuota(ctx.db, ctx);
  return { name, row };
}

async function auditedStart<T>(
  ctx: RegistryContext,
  repository: string,
  run: () => Promise<T>,
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    throw await recordRefusal(ctx, "container-registry.image.push", repository, error);
  }
}

/** Open a blob upload session in the caller's repository (created on first push). */
export function startUpload(
  ctx: RegistryContext,
  input: { repository: string },
): Promise<{ id: string }> {
  return auditedStart(ctx, input.repository, async () => {
    const { name, row } = await startChecks(ctx, input.repository);
    const [open] = await ctx.db
      .select({ n: count() })
      .from(uploadSessions)
      .where(eq(uploadSessions.accountId, accountId(ctx)));
    if ((open?.n ?? 0) >= MAX_OPEN_UPLOADS) {
      throw new OciFailure(
        "TOOMANYREQUESTS",
        `too many uploads in progress (at most ${MAX_OPEN_UPLOADS}); finish or cancel some first`,
      );
    }
    const id = uuidv7();
    const now = nowOf(ctx);
    await ctx.db.transaction(async (tx) => {
      await relaxedCommit(tx);
      const repositoryId =
        row.repositoryId ?? (await ensureRepository(tx, row.namespaceId, name.name));
      await tx.insert(uploadSessions).values({
        id,
        repositoryId,
        accountId: accountId(ctx),
        offset: 0,
        startedAt: now,
        updatedAt: now,
      });
    });
    try {
      await uploadsOf(ctx.store).create(id);
    } catch (error) {
      await ctx.db.delete(uploadSessions).where(eq(uploadSessions.id, id));
      throw error;
    }
    return { id };
  });
}

/**
 * Cross-repository mount: link a blob the caller already holds (in `from`, or with no
 * `from` in any of its repositories of the region) into the target repository without
 * moving bytes. Null when there is nothing to mount: the client then uploads.
 */
export function mountBlob(
  ctx: RegistryContext,
  input: { repository: string; digest: string; from?: string },
): Promise<BlobInfo | null> {
  return auditedStart(ctx, input.repository, async () => {
    const digest = checkDigest(input.digest);
    const { name, row } = await startChecks(ctx, input.repository);
    let source: string | null = null;
    if (input.from !== undefined) {
      const fromName = ociRepositoryName(input.from);
      const from = await readableRepository(ctx.db, ctx, fromName).catch(() => null);
      if (from && (await linkedBlob(ctx.db, from.repositoryId, digest))) {
        source = from.repositoryId;
      }
    } else {
      source = await anyRepositoryWith(ctx, digest);
    }
    if (!source || !(await ctx.store.stat(digest))) return null;
    return ctx.db.transaction(async (tx) => {
      await holdBlobsAgainstGc(tx);
      // Checked again under the lock: garbage collection may have taken it meanwhile.
      const blob = await linkedBlob(tx, source, digest);
      if (!blob) return null;
      const repositoryId =
        row.repositoryId ?? (await ensureRepository(tx, row.namespaceId, name.name));
      await linkBlobs(tx, repositoryId, [digest]);
      return blob;
    });
  });
}

async function anyRepositoryWith(ctx: RegistryContext, digest: string): Promise<string | null> {
  const rows = await ctx.db
    .select({ id: repositories.id })
    .from(repositoryBlobs)
    .innerJoin(repositories, eq(repositories.id, repositoryBlobs.repositoryId))
    .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId))
    .where(
      and(
        eq(repositoryBlobs.digest, digest),
        eq(namespaces.accountId, accountId(ctx)),
        eq(namespaces.region, ctx.region),
      ),
    )
    .limit(1);
  return rows[0]?.id ?? null;
}

export interface UploadRef {
  repository: string;
  id: string;
}

/** The caller's session of that repository, else BLOB_UPLOAD_UNKNOWN. */
async function requireSession(ctx: RegistryContext, ref: UploadRef) {
  const name = ociRepositoryName(ref.repository);
  const unknown = () =>
    new OciFailure("BLOB_UPLOAD_UNKNOWN", `upload ${ref.id} is not known in ${name.name}`);
  if (!UUID.test(ref.id)) throw unknown();
  const rows = await ctx.db
    .select({ id: uploadSessions.id, repositoryId: uploadSessions.repositoryId })
    .from(uploadSessions)
    .innerJoin(repositories, eq(repositories.id, uploadSessions.repositoryId))
    .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId))
    .where(
      and(
        eq(uploadSessions.id, ref.id),
        eq(uploadSessions.accountId, accountId(ctx)),
        eq(repositories.name, name.name),
        eq(namespaces.accountId, accountId(ctx)),
        eq(namespaces.region, ctx.region),
      ),
    )
    .limit(1);
  if (!rows[0]) throw unknown();
  return rows[0];
}

/** Bytes received so far by an upload. */
export async function uploadStatus(
  ctx: RegistryContext,
  ref: UploadRef,
): Promise<{ offset: number }> {
  try {
    await requireSession(ctx, ref);
    const size = await uploadsOf(ctx.store).size(ref.id);
    if (size === null) throw new UploadNotFoundError(ref.id);
    return { offset: size };
  } catch (error) {
    throw ociFailureOf(error);
  }
}

async function withSession<T>(
  ctx: RegistryContext,
  ref: UploadRef,
  run: (session: { id: string; repositoryId: string }) => Promise<T>,
): Promise<T> {
  try {
    const session = await requireSession(ctx, ref);
    const release = uploadsOf(ctx.store).acquire(ref.id);
    if (!release) {
      throw new OciFailure(
        "BLOB_UPLOAD_INVALID",
        `another request is writing to upload ${ref.id}; send chunks one after the other`,
      );
    }
    try {
      return await run(session);
    } finally {
      release();
    }
  } catch (error) {
    throw ociFailureOf(error);
  }
}

async function appendChunk(
  ctx: RegistryContext,
  id: string,
  source: Readable | Uint8Array,
  start: number | undefined,
): Promise<number> {
  const uploads = uploadsOf(ctx.store);
  const offset = await uploads.size(id);
  if (offset === null) throw new UploadNotFoundError(id);
  if (start !== undefined && start !== offset) throw new UploadOffsetError(offset, start);
  const size = await uploads.append(id, source, offset);
  await ctx.db.transaction(async (tx) => {
    await relaxedCommit(tx);
    await tx
      .update(uploadSessions)
      .set({ offset: size, updatedAt: nowOf(ctx) })
      .where(eq(uploadSessions.id, id));
  });
  return size;
}

/**
 * Append a chunk (PATCH). `start` is the first byte of a Content-Range; a chunk that does
 * not start where the upload ends is refused (416) and changes nothing.
 */
export function appendUpload(
  ctx: RegistryContext,
  input: UploadRef & { source: Readable | Uint8Array; start?: number },
): Promise<{ offset: number }> {
  return withSession(ctx, input, async (session) => ({
    offset: await appendChunk(ctx, session.id, input.source, input.start),
  }));
}

/**
 * Close an upload (PUT ?digest=), with an optional last chunk: the bytes must hash to the
 * digest (else DIGEST_INVALID and the upload is dropped); then the blob is published into
 * the store, recorded and linked into the repository, all under the lock that keeps
 * garbage collection from deleting what is being linked.
 */
export function finishUpload(
  ctx: RegistryContext,
  input: UploadRef & { digest: string | undefined; source?: Readable | Uint8Array; start?: number },
): Promise<BlobInfo> {
  return withSession(ctx, input, async (session) => {
    const digest = checkDigest(input.digest);
    if (input.source) await appendChunk(ctx, session.id, input.source, input.start);
    const uploads = uploadsOf(ctx.store);
    let info: BlobInfo;
    try {
      info = await uploads.seal(session.id, digest);
    } catch (error) {
      if (error instanceof DigestMismatchError || error instanceof SizeMismatchError) {
        await dropSession(ctx, session.id);
      }
      throw error;
    }
    await ctx.db.transaction(async (tx) => {
      await relaxedCommit(tx);
      await holdBlobsAgainstGc(tx);
      await recordBlob(tx, info);
      await linkBlobs(tx, session.repositoryId, [info.digest]);
      await tx.delete(uploadSessions).where(eq(uploadSessions.id, session.id));
      // Last, so that a failure before it rolls everything back with the bytes in place.
      await uploads.publish(session.id, info.digest);
    });
    return info;
  });
}

async function dropSession(ctx: RegistryContext, id: string): Promise<void> {
  await ctx.db.delete(uploadSessions).where(eq(uploadSessions.id, id));
  await uploadsOf(ctx.store).abort(id);
}

/** Cancel an upload (DELETE): its bytes go at once. */
export function cancelUpload(ctx: RegistryContext, ref: UploadRef): Promise<void> {
  return withSession(ctx, ref, (session) => dropSession(ctx, session.id));
}

/** A monolithic upload (POST ?digest= with the body): open, write, close in one request. */
export async function uploadWhole(
  ctx: RegistryContext,
  input: { repository: string; digest: string | undefined; source: Readable | Uint8Array },
): Promise<BlobInfo> {
  try {
    checkDigest(input.digest);
  } catch (error) {
    throw await recordRefusal(ctx, "container-registry.image.push", input.repository, error);
  }
  const { id } = await startUpload(ctx, { repository: input.repository });
  try {
    return await finishUpload(ctx, { ...input, id });
  } catch (error) {
    await dropSession(ctx, id).catch(() => {});
    throw error;
  }
}
