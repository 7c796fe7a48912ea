import type { Tx } from "@berth/db";
import { sql } from "drizzle-orm";
import { BLOB_GC_LOCK } from "../images/records";

/**
 * Let this transaction commit without waiting for its WAL flush. Only for bookkeeping
 * that a crash may lose without harm, never for a transaction that writes an event: upload
 * sessions (a lost one fails cleanly as BLOB_UPLOAD_UNKNOWN), a finished upload's blob
 * link (a lost one makes the manifest PUT fail with MANIFEST_BLOB_UNKNOWN, and the client
 * uploads again; once any later synchronous commit returns, the WAL before it is on disk
 * too, so nothing acknowledged by an audited push can be lost), pull-traffic counts of
 * blob fetches. It saves a disk flush (milliseconds) on each request of a push.
 *
 * With `holdBlobs`, it also takes the garbage-collection lock in shared mode (as
 * `holdBlobsAgainstGc` does), in the same round trip.
 */
export async function relaxedCommit(tx: Tx, opts: { holdBlobs?: boolean } = {}): Promise<void> {
  await tx.execute(
    opts.holdBlobs
      ? sql`select set_config('synchronous_commit', 'off', true), pg_advisory_xact_lock_shared(${BLOB_GC_LOCK})`
      : sql`select set_config('synchronous_commit', 'off', true)`,
  );
}
