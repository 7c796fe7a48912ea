import type { Readable } from "node:stream";
import { DEFAULT_PLAN, effectiveLimits, type PlanName } from "@berth/core";
import { namespaces, repositories, repositoryBlobs, uploadSessions } from "@berth/db";
import { and, eq, sql } from "drizzle-orm";
import { v7 as uuidv7 } from "uuid";
import { accountId, nowOf, type RegistryContext } from "../context";
import { ensureRepository, holdBlobsAgainstGc, linkBlobs } from "../images/records";
import { type BlobInfo, DigestMismatchError, SizeMismatchError } from "../storage/blob-store";
import { uploadsOf } from "../storage/fs-uploads";
import { UploadNotFoundError, UploadOffsetError } from "../storage/uploads";
import { recordRefusal } from "./audit";
import { linkedBlob } from "./blobs";
import { relaxedCommit } from "./commit";
import { OciFailure, ociFailureOf } from "./errors";
import { checkStorageQuota } from "./quota";
import { notYourNamespace, ociRepositoryName, readableRepository } from "./repository";

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
async function startChecks(
  ctx: RegistryContext,
  repository: string,
  opts: { countUploads?: boolean } = {},
) {
  const name = ociRepositoryName(repository);
  const account = accountId(ctx);
  const rows = await ctx.db.execute<{
    namespace_id: string;
    repository_id: string | null;
    plan: PlanName | null;
    storage_mb: number | null;
    traffic_mb: number | null;
    open_uploads: number;
  }>(sql`
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
     where n.account_id = ${account} and n.region = ${ctx.region} and n.name = ${name.namespace}`);
  const found = rows[0];
  if (!found) throw notYourNamespace(ctx, name);
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
    const { name, row } = await startChecks(ctx, input.repository, { countUploads: true });
    const id = uuidv7();
    const now = nowOf(ctx);
    const session = {
      id,
      accountId: accountId(ctx),
      offset: 0,
      startedAt: now,
      updatedAt: now,
    };
    let repositoryId = row.repositoryId;
    if (repositoryId) {
      // The common case, in one statement that commits without waiting (see relaxedCommit).
      await ctx.db.execute(sql`
        with relaxed as (select set_config('synchronous_commit', 'off', true))
        insert into upload_sessions (id, repository_id, account_id, "offset", started_at, updated_at)
        select ${id}, ${repositoryId}, ${session.accountId}, 0,
               ${now.toISOString()}::timestamptz, ${now.toISOString()}::timestamptz
          from relaxed`);
    } else {
      repositoryId = await ctx.db.transaction(async (tx) => {
        await relaxedCommit(tx);
        const created = await ensureRepository(tx, row.namespaceId, name.name);
        await tx.insert(uploadSessions).values({ ...session, repositoryId: created });
        return created;
      });
    }
    try {
      await uploadsOf(ctx.store).create(id);
    } catch (error) {
      await ctx.db.delete(uploadSessions).where(eq(uploadSessions.id, id));
      throw error;
    }
    knownSessions(ctx).remember(id, {
      accountId: session.accountId,
      region: ctx.region,
      repository: name.name,
      repositoryId,
    });
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

/**
 * Sessions this process opened, so that the chunks and the close of an upload need not look
 * their session up again (a push sends them right after the start). A session opened by
 * another process, or before a restart, is looked up in the database. Whoever asks must be
 * the same account, region and repository either way.
 */
class KnownSessions {
  private readonly byId = new Map<
    string,
    { accountId: string; region: string; repository: string; repositoryId: string }
  >();
  remember(
    id: string,
    session: { accountId: string; region: string; repository: string; repositoryId: string },
  ): void {
    if (this.byId.size >= MAX_KNOWN_SESSIONS) {
      const oldest = this.byId.keys().next().value;
      if (oldest !== undefined) this.byId.delete(oldest);
    }
    this.byId.set(id, session);
  }
  get(id: string) {
    return this.byId.get(id);
  }
  forget(id: string): void {
    this.byId.delete(id);
  }
}

const MAX_KNOWN_SESSIONS = 10_000;
const knownByStore = new WeakMap<object, KnownSessions>();

/** The sessions opened on this store instance (a restarted server starts with none). */
function knownSessions(ctx: RegistryContext): KnownSessions {
  let known = knownByStore.get(ctx.store);
  if (!known) {
    known = new KnownSessions();
    knownByStore.set(ctx.store, known);
  }
  return known;
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
  const known = knownSessions(ctx).get(ref.id);
  if (known) {
    if (
      known.accountId !== accountId(ctx) ||
      known.region !== ctx.region ||
      known.repository !== name.name
    ) {
      throw unknown();
    }
    return { id: ref.id, repositoryId: known.repositoryId };
  }
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
  // No database write per chunk: the upload's bytes, and their file's modification time
  // (what abandoned-upload cleanup looks at), are the record of its progress.
  return uploads.append(id, source, offset);
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
      await relaxedCommit(tx, { holdBlobs: true });
      // Blob row, link and the end of the session in one statement (the link's foreign key
      // is checked at its end, when the row is there).
      await tx.execute(sql`
        with blob as (
          insert into blobs (digest, size) values (${info.digest}, ${info.size})
          on conflict do nothing),
        link as (
          insert into repository_blobs (repository_id, digest)
          values (${session.repositoryId}, ${info.digest})
          on conflict do nothing),
        done as (delete from upload_sessions where id = ${session.id})
        select 1`);
      // Last, so that a failure before it rolls everything back with the bytes in place.
      await uploads.publish(session.id, info.digest);
    });
    knownSessions(ctx).forget(session.id);
    return info;
  });
}

async function dropSession(ctx: RegistryContext, id: string): Promise<void> {
  knownSessions(ctx).forget(id);
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
