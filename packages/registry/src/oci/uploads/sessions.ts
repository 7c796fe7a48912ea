import { randomUUID } from "node:crypto";
import { namespaces, repositories, uploadSessions } from "@berth/db";
import { and, eq, sql } from "drizzle-orm";
import type { CredentialSource } from "../../auth/credential";
import { accountId, type RegistryContext } from "../../context";
import type { UploadState } from "../../storage/blob-store";
import { CredentialGoneError, credentialHolds, credentialHoldsSql } from "../credential-holds";
import { OciFailure, ociFailureOf } from "../errors";
import { ociRepositoryName } from "../repository";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * How long a request's hold on an upload lasts without renewal. The holder renews it every
 * third of that while it runs, so only a process that died (or lost its database) lets it
 * run out; the upload is then writable again from any process.
 */
export const UPLOAD_LEASE_MS = 30_000;

export interface UploadRef {
  repository: string;
  id: string;
  /** A bearer token's credential not looked up yet: checked as the session is taken. */
  unconfirmed?: CredentialSource;
}

/**
 * An upload session as a request sees it: its row's store state, which the store updates
 * in place; `size` once a chunk was written; `ended` once the session is gone (finished or
 * cancelled), so there is nothing to write back.
 */
export interface UploadSession {
  id: string;
  repositoryId: string;
  state: UploadState;
  size?: number;
  ended?: boolean;
}

function unknownUpload(ref: UploadRef, repository: string): OciFailure {
  return new OciFailure("BLOB_UPLOAD_UNKNOWN", `upload ${ref.id} is not known in ${repository}`);
}

/** The caller's session of that repository (no hold on it), else BLOB_UPLOAD_UNKNOWN. */
export async function requireSession(ctx: RegistryContext, ref: UploadRef): Promise<UploadSession> {
  const name = ociRepositoryName(ref.repository);
  if (!UUID.test(ref.id)) throw unknownUpload(ref, name.name);
  const rows = await ctx.db
    .select({
      id: uploadSessions.id,
      repositoryId: uploadSessions.repositoryId,
      state: uploadSessions.state,
    })
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
  if (!rows[0]) throw unknownUpload(ref, name.name);
  return rows[0];
}

/**
 * Take the caller's session for one request: the lease is set in the same statement that
 * checks whose session it is (account, region, repository). Any server process may take
 * it; while one request holds it, another (on this process or any other) is refused
 * rather than queued, as two chunks sent at once are a client error.
 */
async function takeSession(
  ctx: RegistryContext,
  ref: UploadRef,
  token: string,
): Promise<UploadSession> {
  const name = ociRepositoryName(ref.repository);
  if (!UUID.test(ref.id)) throw unknownUpload(ref, name.name);
  const account = accountId(ctx);
  // Relaxed commit: a lease lost to a database crash only frees the upload early.
  const rows = await ctx.db.execute<{ repository_id: string; state: UploadState }>(sql`
    with relaxed as (select set_config('synchronous_commit', 'off', true))
    update upload_sessions s
       set writer = ${token},
           writer_until = now() + make_interval(secs => ${UPLOAD_LEASE_MS / 1000})
      from relaxed, repositories r, namespaces n
     where s.id = ${ref.id} and s.account_id = ${account}
       and r.id = s.repository_id and r.name = ${name.name}
       and n.id = r.namespace_id and n.account_id = ${account} and n.region = ${ctx.region}
       and (s.writer is null or s.writer_until < now())
       and ${credentialHoldsSql(ctx, ref.unconfirmed)}
    returning s.repository_id, s.state`);
  const row = rows[0];
  if (row) return { id: ref.id, repositoryId: row.repository_id, state: row.state };
  // Nothing taken: a gone credential hears only that, before anything about the upload.
  if (ref.unconfirmed && !(await credentialHolds(ctx.db, ctx, ref.unconfirmed))) {
    throw new CredentialGoneError();
  }
  await requireSession(ctx, ref);
  throw new OciFailure(
    "BLOB_UPLOAD_INVALID",
    `another request is writing to upload ${ref.id}; send chunks one after the other`,
  );
}

/**
 * Write the session's state back and end the lease. Durable when the store's state changed
 * (it names objects the store may since have deleted); relaxed otherwise. False when the
 * lease was no longer ours: the request stalled past it and another took the upload over.
 */
async function releaseSession(
  ctx: RegistryContext,
  session: UploadSession,
  token: string,
  stateBefore: string,
): Promise<boolean> {
  const state = JSON.stringify(session.state);
  const relaxed = state === stateBefore ? sql`'off'` : sql`'on'`;
  // A request that wrote nothing (a refused chunk) leaves the upload as it was: its last
  // activity too, which is what an abandoned upload's expiry counts from.
  const touched = state !== stateBefore || session.size !== undefined;
  const rows = await ctx.db.execute(sql`
    with relaxed as (select set_config('synchronous_commit', ${relaxed}, true))
    update upload_sessions
       set state = ${state}::jsonb,
           "offset" = coalesce(${session.size ?? null}::bigint, "offset"),
           updated_at = ${touched ? sql`now()` : sql`updated_at`}, writer = null, writer_until = null
      from relaxed
     where id = ${session.id} and writer = ${token}
    returning 1`);
  return rows.length > 0;
}

/** Run `run` on the caller's session, holding its lease; errors as OCI failures. */
export async function withSession<T>(
  ctx: RegistryContext,
  ref: UploadRef,
  run: (session: UploadSession) => Promise<T>,
): Promise<T> {
  try {
    const token = randomUUID();
    const session = await takeSession(ctx, ref, token);
    const stateBefore = JSON.stringify(session.state);
    const renew = setInterval(() => {
      ctx.db
        .execute(sql`
          update upload_sessions
             set writer_until = now() + make_interval(secs => ${UPLOAD_LEASE_MS / 1000})
           where id = ${session.id} and writer = ${token}`)
        .catch(() => {});
    }, UPLOAD_LEASE_MS / 3);
    renew.unref();
    let result: T;
    try {
      result = await run(session);
    } catch (error) {
      clearInterval(renew);
      // A failed request's state is still the store's truth (a seal that then failed).
      if (!session.ended) await releaseSession(ctx, session, token, stateBefore).catch(() => {});
      throw error;
    }
    clearInterval(renew);
    if (!session.ended && !(await releaseSession(ctx, session, token, stateBefore))) {
      throw new OciFailure(
        "BLOB_UPLOAD_INVALID",
        `upload ${ref.id} was taken over by another request while this one stalled; ask where it stands and continue from there`,
      );
    }
    return result;
  } catch (error) {
    if (error instanceof CredentialGoneError) throw error;
    throw ociFailureOf(error);
  }
}

/** End a session: its row deleted, its bytes gone. */
export async function dropSession(
  ctx: RegistryContext,
  session: { id: string; state?: UploadState; ended?: boolean },
): Promise<void> {
  session.ended = true;
  await ctx.db.delete(uploadSessions).where(eq(uploadSessions.id, session.id));
  await ctx.store.uploads().abort(session.id, session.state);
}
