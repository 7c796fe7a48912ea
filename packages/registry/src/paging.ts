import { type SQL, sql } from "drizzle-orm";

/** Text ordered bytewise, the same in every database whatever its default collation. */
export const bytewise = (value: unknown): SQL => sql`${value} collate "C"`;

/**
 * Rows after the keyset `key`: a row comparison of the list's order columns (ascending,
 * ending with a unique one) with the key of the last row of the previous page.
 */
export function after(order: SQL[], key: SQL[]): SQL {
  return sql`(${sql.join(order, sql`, `)}) > (${sql.join(key, sql`, `)})`;
}
