import { type ActionName, type CursorCodec, type Page, pageOf } from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { type SQL, sql } from "drizzle-orm";
import { accountTarget, runAuditedRead } from "./audit";
import type { RegistryContext } from "./context";

/** Text ordered bytewise, the same in every database whatever its default collation. */
export const bytewise = (value: unknown): SQL => sql`${value} collate "C"`;

/**
 * Rows after the keyset `key`: a row comparison of the list's order columns (ascending,
 * ending with a unique one) with the key of the last row of the previous page.
 */
export function after(order: SQL[], key: SQL[]): SQL {
  return sql`(${sql.join(order, sql`, `)}) > (${sql.join(key, sql`, `)})`;
}

export interface AuditedList<I extends { limit: number }, R, T, K> {
  action: ActionName;
  input: { parse(raw: unknown): I };
  cursor: CursorCodec<K>;
  /**
   * Up to `input.limit + 1` rows after the cursor: one more than the page says there is a next.
   * Read on the pool, not in a transaction (runAuditedRead).
   */
  read(db: DbOrTx, input: I): Promise<R[]>;
  item(row: R): T;
  /** The keyset of a row, the cursor of the page that follows it. */
  key(row: R): K;
  /** What the call was narrowed by, recorded as the event's requestData when there is any. */
  filters?(input: I): Record<string, unknown>;
}

/**
 * An audited list action (images, namespaces, registry tokens): the input parsed, a page
 * read, and the one event of the call, on the account, saying how many it returned. A
 * failure's event is on the account too.
 */
export function auditedList<I extends { limit: number }, R, T, K>(
  ctx: RegistryContext,
  raw: unknown,
  list: AuditedList<I, R, T, K>,
): Promise<Page<T>> {
  return runAuditedRead(ctx, {
    action: list.action,
    failure: () => [{ target: accountTarget(ctx) }],
    read: async (db) => {
      const input = list.input.parse(raw ?? {});
      const rows = await list.read(db, input);
      const result = pageOf(rows, input.limit, list.item, list.key, list.cursor);
      const filters = list.filters?.(input) ?? {};
      return {
        result,
        records: [
          {
            target: accountTarget(ctx),
            ...(Object.keys(filters).length > 0 ? { requestData: filters } : {}),
            responseData: { count: result.items.length },
          },
        ],
      };
    },
  });
}
