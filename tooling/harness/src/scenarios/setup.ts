/**
 * What every fault scenario starts from: accounts with a namespace each in a fresh database,
 * and the scan of process output for secrets.
 */
import { createDb, type Sql } from "@berth/db";
import { createAccount } from "@berth/registry";
import { type Actor, trpc } from "../workload";

export type Log = (line: string) => void;

export interface Setup {
  sql: Sql;
  actors: Actor[];
  close(): Promise<void>;
}

/** Accounts (each with a namespace for pushes) in a fresh database. */
export async function setupAccounts(
  databaseUrl: string,
  base: string,
  prefix: string,
  count = 2,
): Promise<Setup> {
  const { db, sql } = createDb(databaseUrl, { max: 4 });
  const actors: Actor[] = [];
  for (let i = 0; i < count; i++) {
    const created = await createAccount(db, { name: `${prefix}-${i}` });
    const namespace = `${prefix.slice(0, 20)}p${i}`.toLowerCase();
    await trpc(
      base,
      created.apiKey,
      "namespace.create",
      { name: namespace },
      `${prefix}-setup-${i}`,
    );
    actors.push({ name: created.account.id, apiKey: created.apiKey, namespace });
  }
  return { sql, actors, close: () => sql.end({ timeout: 5 }) };
}

/** Scan process output for things that must never be there. */
export function leaksIn(output: string[], secrets: string[]): string[] {
  const text = output.join("\n");
  const found: string[] = [];
  for (const s of secrets) if (s && text.includes(s)) found.push(`${s.slice(0, 12)}…`);
  if (/params: (?!\[redacted\])/.test(text)) found.push("query parameters (params: ...)");
  return found;
}
