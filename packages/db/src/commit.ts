import { sql } from "drizzle-orm";
import type { Db, DbOrTx } from "./client";

/**
 * Commits in doubt. When the connection is lost while a COMMIT is on its way, the client
 * cannot tell whether the database committed. Postgres can: a transaction's id, read
 * before the commit, is looked up afterwards (`pg_xact_status`) on any connection.
 */

/** The id of the current transaction (assigning one if it has none yet). */
export async function currentTransactionId(tx: DbOrTx): Promise<string> {
  const rows = await tx.execute<{ xid: string }>(sql`select pg_current_xact_id()::text as xid`);
  return rows[0]!.xid;
}

export type TransactionStatus = "committed" | "aborted" | "in progress";

/** What became of a transaction, by the id currentTransactionId read inside it. */
export async function transactionStatus(db: Db, xid: string): Promise<TransactionStatus> {
  const rows = await db.execute<{ status: TransactionStatus | null }>(
    sql`select pg_xact_status(${xid}::xid8) as status`,
  );
  // Null: too old for the commit log to remember, which a transaction of seconds ago is not.
  return rows[0]?.status ?? "aborted";
}
