import type { Tx } from "@berth/db";
import { sql } from "drizzle-orm";

/**
 * Let this transaction commit without waiting for its WAL flush. Only for bookkeeping
 * that a crash may lose without harm, never for a transaction that writes an event: upload
 * sessions (a lost one fails cleanly as BLOB_UPLOAD_UNKNOWN), a finished upload's blob
 * link (a lost one makes the manifest PUT fail with MANIFEST_BLOB_UNKNOWN, and the client
 * uploads again; once any later synchronous commit returns, the WAL before it is on disk
 * too, so nothing acknowledged by an audited push can be lost), pull-traffic counts of
 * blob fetches. It saves a disk flush (milliseconds) on each request of a push.
 */
export async function relaxedCommit(tx: Tx): Promise<void> {
  await tx.execute(sql`set local synchronous_commit to off`);
}
