import type { Sql } from "./client";

// For tests and the fault harness: "did this refused request change anything?" asked of
// every table at once. Here, beside the schema, so that a new table is added where it is made.

/** Tables of registry state (everything but the outbox, and usage bookkeeping of reads). */
export const STATE_TABLES = [
  "accounts",
  "users",
  "api_keys",
  "namespaces",
  "repositories",
  "blobs",
  "repository_blobs",
  "manifests",
  "manifest_references",
  "tags",
  "upload_sessions",
  "registry_tokens",
  "exemptions",
  "plans",
  "quotas",
  "trash_entries",
  "trash_blobs",
  "retention_policies",
  "tag_immutability",
] as const;

/** Columns that change on reads (last use of a credential): not state. */
const VOLATILE = new Set(["last_used_at"]);

/**
 * A fingerprint of the registry's state: each state table's rows, hashed in a stable order.
 * Two equal fingerprints mean nothing changed (credentials' last-use times aside).
 */
export async function stateFingerprint(sql: Sql): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const table of STATE_TABLES) {
    const columns = (await sql`
      select column_name from information_schema.columns
       where table_schema = current_schema() and table_name = ${table}
       order by ordinal_position`) as unknown as { column_name: string }[];
    const kept = columns.map((c) => c.column_name).filter((c) => !VOLATILE.has(c));
    const list = kept.map((c) => `"${c}"`).join(", ");
    const [row] = (await sql.unsafe(
      `select count(*)::int as n, coalesce(md5(string_agg(r::text, '|' order by r::text)), '') as h
         from (select ${list} from "${table}") r`,
    )) as unknown as [{ n: number; h: string }];
    out[table] = `${row.n}:${row.h}`;
  }
  return out;
}
