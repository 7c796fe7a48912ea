import { namespaces, repositories, uploadSessions } from "@berth/db";
import { and, eq } from "drizzle-orm";
import { accountId, type RegistryContext } from "../../context";
import { OciFailure, ociFailureOf } from "../errors";
import { ociRepositoryName } from "../repository";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

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
export function knownSessions(ctx: RegistryContext): KnownSessions {
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
export async function requireSession(ctx: RegistryContext, ref: UploadRef) {
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

/** Run `run` on the caller's session, holding its write lock; errors as OCI failures. */
export async function withSession<T>(
  ctx: RegistryContext,
  ref: UploadRef,
  run: (session: { id: string; repositoryId: string }) => Promise<T>,
): Promise<T> {
  try {
    const session = await requireSession(ctx, ref);
    const release = ctx.store.uploads().acquire(ref.id);
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

/** End a session: forgotten, its row deleted, its bytes gone. */
export async function dropSession(ctx: RegistryContext, id: string): Promise<void> {
  knownSessions(ctx).forget(id);
  await ctx.db.delete(uploadSessions).where(eq(uploadSessions.id, id));
  await ctx.store.uploads().abort(id);
}
