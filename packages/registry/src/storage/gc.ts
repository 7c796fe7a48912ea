import type { Db } from "@berth/db";
import { blobs, uploadSessions } from "@berth/db";
import { and, inArray, isNull, lt, or, sql } from "drizzle-orm";
import { collectGarbage } from "../images/gc";
import { BLOB_GC_LOCK } from "../images/records";
import type { BlobStore } from "./blob-store";

export interface BlobGcOptions {
  /**
   * Blobs and files younger than this are never collected, whatever their state: a push
   * in progress may be about to reference them. Default one hour.
   */
  graceMs?: number;
  /** Upload sessions without a write for this long are abandoned. Default 24 hours. */
  uploadTtlMs?: number;
  /**
   * A blob uploaded into a repository but referenced by none of its manifests for this
   * long is unlinked (a push that never finished). Default 7 days; null keeps them.
   */
  unreferencedLinkTtlMs?: number | null;
  now?: () => Date;
}

export interface BlobGcReport {
  abandonedUploads: number;
  unlinked: number;
  /** Blob rows and files removed. */
  removed: string[];
  bytes: number;
  /** Files in the store without a blob row (left by a crash), removed. */
  orphanFiles: number;
}

const HOUR = 60 * 60 * 1000;
const BATCH = 500;

/**
 * Garbage collection of blob storage, safe while pushes run:
 *
 * 1. upload sessions abandoned for `uploadTtlMs` go, rows and bytes, and so do upload
 *    files without a session that are older than the grace period;
 * 2. links of blobs that no manifest of their repository references, older than
 *    `unreferencedLinkTtlMs`, are removed (the blobs of a push that never completed);
 * 3. blobs no repository links and no manifest references, older than the grace period,
 *    are deleted, row and file (`collectGarbage`);
 * 4. blob files without a row, older than the grace period, are deleted.
 *
 * Steps 2 to 4 hold the exclusive GC lock; every writer that links blobs (upload
 * completion, mount, manifest put, tag and copy) holds it shared while it checks and links,
 * and an upload publishes its file inside that section. So a blob is never deleted between
 * "it exists" and "it is linked", and a freshly uploaded blob, linked as it is published,
 * is never unreferenced in the first place.
 */
export async function collectBlobs(
  db: Db,
  store: BlobStore,
  opts: BlobGcOptions = {},
): Promise<BlobGcReport> {
  const now = opts.now ?? (() => new Date());
  const graceMs = opts.graceMs ?? HOUR;
  const report: BlobGcReport = {
    abandonedUploads: await cleanupUploads(db, store, {
      olderThanMs: opts.uploadTtlMs ?? 24 * HOUR,
      graceMs,
      now,
    }),
    unlinked: 0,
    removed: [],
    bytes: 0,
    orphanFiles: 0,
  };
  const linkTtl =
    opts.unreferencedLinkTtlMs === undefined ? 7 * 24 * HOUR : opts.unreferencedLinkTtlMs;
  if (linkTtl !== null) {
    report.unlinked = await db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${BLOB_GC_LOCK})`);
      const rows = await tx.execute(sql`
        delete from repository_blobs rb
         where rb.created_at < ${new Date(now().getTime() - linkTtl).toISOString()}::timestamptz
           and not exists (
             select 1 from manifest_references mr
               join manifests m on m.id = mr.manifest_id
              where m.repository_id = rb.repository_id and mr.digest = rb.digest)
        returning rb.digest`);
      return rows.length;
    });
  }
  const gc = await collectGarbage(db, store, { olderThanMs: graceMs });
  report.removed = gc.removed;
  report.bytes = gc.bytes;
  report.orphanFiles = await removeOrphanFiles(db, store, now().getTime() - graceMs);
  return report;
}

/**
 * Abandoned uploads: sessions with no write for `olderThanMs` (rows and bytes; a write is
 * seen in the row, which each chunk updates, and in the session's files), and upload files
 * that no session owns once they are older than `graceMs`. Returns how many went.
 */
export async function cleanupUploads(
  db: Db,
  store: BlobStore,
  opts: { olderThanMs: number; graceMs?: number; now?: () => Date },
): Promise<number> {
  const now = (opts.now ?? (() => new Date()))().getTime();
  const uploads = store.uploads();
  const idleSince = now - opts.olderThanMs;
  const orphanBefore = now - (opts.graceMs ?? HOUR);
  const files = new Map<string, number>();
  for await (const upload of uploads.list()) files.set(upload.id, upload.modifiedAt.getTime());
  let removed = 0;
  // A session a request holds (its lease running) is being written, however old its last
  // chunk: a slow client's long chunk.
  const idle = await db
    .select({ id: uploadSessions.id, state: uploadSessions.state })
    .from(uploadSessions)
    .where(
      and(
        lt(uploadSessions.updatedAt, new Date(idleSince)),
        or(isNull(uploadSessions.writerUntil), lt(uploadSessions.writerUntil, sql`now()`)),
      ),
    );
  const abandoned = idle.filter((r) => (files.get(r.id) ?? Number.NEGATIVE_INFINITY) < idleSince);
  for (let i = 0; i < abandoned.length; i += BATCH) {
    const batch = abandoned.slice(i, i + BATCH);
    await db.delete(uploadSessions).where(
      inArray(
        uploadSessions.id,
        batch.map((r) => r.id),
      ),
    );
    for (const { id, state } of batch) {
      await uploads.abort(id, state);
      files.delete(id);
      removed++;
    }
  }
  const old = [...files].filter(([, modified]) => modified < orphanBefore).map(([id]) => id);
  for (let i = 0; i < old.length; i += BATCH) {
    const batch = old.slice(i, i + BATCH);
    const live = await db
      .select({ id: uploadSessions.id })
      .from(uploadSessions)
      .where(inArray(uploadSessions.id, batch));
    const owned = new Set(live.map((r) => r.id));
    for (const id of batch) {
      if (!owned.has(id) && (await uploads.abort(id))) removed++;
    }
  }
  return removed;
}

async function removeOrphanFiles(db: Db, store: BlobStore, cutoff: number): Promise<number> {
  let removed = 0;
  let batch: string[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const digests = batch;
    batch = [];
    removed += await db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${BLOB_GC_LOCK})`);
      const known = await tx
        .select({ digest: blobs.digest })
        .from(blobs)
        .where(inArray(blobs.digest, digests));
      const have = new Set(known.map((k) => k.digest));
      let n = 0;
      for (const digest of digests) {
        if (have.has(digest)) continue;
        const s = await store.stat(digest);
        if (s && s.modifiedAt.getTime() < cutoff && (await store.delete(digest))) n++;
      }
      return n;
    });
  };
  for await (const digest of store.list()) {
    batch.push(digest);
    if (batch.length >= BATCH) await flush();
  }
  await flush();
  return removed;
}
