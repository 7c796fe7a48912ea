import type { Db } from "@berth/db";
import { sql } from "drizzle-orm";
import type { BlobStore } from "../storage/blob-store";
import { BLOB_GC_LOCK } from "./records";

export interface GcResult {
  /** Digests whose rows and files were removed. */
  removed: string[];
  bytes: number;
}

/**
 * Remove blobs that no repository links, no manifest references and no trash entry keeps, recorded more than
 * `olderThanMs` ago (a fresh upload is not yet linked). Storage usage never counts such
 * blobs, so this frees disk, not quota. Runs under the exclusive GC lock; writers that
 * link existing blobs take it shared (`holdBlobsAgainstGc`), so a blob is never deleted
 * under a push that is about to reference it.
 */
export async function collectGarbage(
  db: Db,
  store: BlobStore,
  opts: { olderThanMs?: number } = {},
): Promise<GcResult> {
  const olderThanMs = opts.olderThanMs ?? 60 * 60 * 1000;
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(${BLOB_GC_LOCK})`);
    const rows = await tx.execute<{ digest: string; size: string | number }>(sql`
      delete from blobs b
       where b.created_at < now() - make_interval(secs => ${olderThanMs / 1000})
         and not exists (select 1 from repository_blobs rb where rb.digest = b.digest)
         and not exists (select 1 from manifest_references mr where mr.digest = b.digest)
         and not exists (select 1 from trash_blobs tb where tb.digest = b.digest)
      returning b.digest, b.size`);
    // Files go after the rows; if the transaction then fails to commit, a row without a
    // file is left, which the OCI layer treats as an unknown blob and re-uploads.
    for (const row of rows) await store.delete(row.digest);
    return {
      removed: rows.map((r) => r.digest),
      bytes: rows.reduce((sum, r) => sum + Number(r.size), 0),
    };
  });
}
