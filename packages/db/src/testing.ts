import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, type Db, type Sql } from "./client";
import { startEmbeddedPostgres } from "./embedded";
import { migrate } from "./migrate";

export { STATE_TABLES, stateFingerprint } from "./state-fingerprint";

/**
 * Environment variable through which a vitest global setup hands the admin URL of the
 * test server to the test files.
 */
export const TEST_ADMIN_URL_ENV = "BERTH_TEST_ADMIN_URL";

/**
 * Vitest global setup: use the server of DATABASE_URL when set, otherwise start an
 * embedded Postgres in a fresh temporary directory (a directory left by a killed run would
 * make the next start fail). Returns the teardown.
 */
export async function setupTestServer(): Promise<() => Promise<void>> {
  if (process.env.DATABASE_URL) {
    process.env[TEST_ADMIN_URL_ENV] = process.env.DATABASE_URL;
    return async () => {};
  }
  const parent = mkdtempSync(join(tmpdir(), "berth-pg-"));
  // initdb runs as the unprivileged postgres user, which must be able to enter the folder.
  chmodSync(parent, 0o755);
  const dataDir = join(parent, "data");
  const server = await startEmbeddedPostgres({ dataDir, persistent: false });
  process.env[TEST_ADMIN_URL_ENV] = server.url;
  return () => server.stop();
}

export interface TestDatabase {
  url: string;
  db: Db;
  sql: Sql;
  /** Close the pool and drop the database. */
  drop(): Promise<void>;
}

/** A fresh, migrated database on the test server, so test files never share state. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const admin = process.env[TEST_ADMIN_URL_ENV] ?? process.env.DATABASE_URL;
  if (!admin) throw new Error(`${TEST_ADMIN_URL_ENV} is not set: add the db global setup`);
  const name = `berth_test_${randomBytes(6).toString("hex")}`;
  const { sql: adminSql } = createDb(admin, { max: 1 });
  await adminSql.unsafe(`create database "${name}"`);
  const u = new URL(admin);
  u.pathname = `/${name}`;
  const url = u.toString();
  await migrate(url);
  const { db, sql } = createDb(url);
  return {
    url,
    db,
    sql,
    async drop() {
      await sql.end({ timeout: 5 });
      await adminSql.unsafe(`drop database if exists "${name}" with (force)`);
      await adminSql.end();
    },
  };
}
