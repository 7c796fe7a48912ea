import type postgres from "postgres";

export type PipelinedTx = postgres.ReservedSql;

/**
 * A transaction on a reserved connection whose BEGIN is sent with its first statements rather
 * than ahead of them: postgres.js's `begin` waits for BEGIN's answer before running the
 * callback, one round trip (a socket write and a wake-up of the backend and of this process)
 * per transaction that carries nothing. Postgres runs pipelined statements in order, so the
 * statements still run inside the transaction; a failed BEGIN fails them too.
 *
 * Statements the callback starts but leaves running when it throws finish (they are ahead of
 * the ROLLBACK on the same connection) before the connection goes back to the pool.
 */
export async function pipelinedTransaction<T>(
  sql: postgres.Sql,
  fn: (tx: PipelinedTx) => Promise<T>,
): Promise<T> {
  const tx = await sql.reserve();
  try {
    const began = tx`begin`.execute();
    // Its failure is the statements' failure too; awaited below for the case of none.
    began.catch(() => {});
    let result: T;
    try {
      result = await fn(tx);
      await began;
    } catch (error) {
      await tx`rollback`.catch(() => {});
      throw error;
    }
    await tx`commit`;
    return result;
  } finally {
    tx.release();
  }
}
