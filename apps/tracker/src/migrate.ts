import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/postgres-js";
import { migrate as drizzleMigrate } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";

export const TRACKER_MIGRATIONS_DIR = fileURLToPath(new URL("../drizzle", import.meta.url));

// Not Berth's migration lock: the tracker is another service and migrates on its own.
const TRACKER_MIGRATION_LOCK = 0x74726b72;

/**
 * Apply the tracker's migrations to its own schema, with its own migrations table there,
 * so it never touches (or waits on) Berth's. Several tracker processes may start at once.
 */
export async function migrateTracker(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql`select pg_advisory_lock(${TRACKER_MIGRATION_LOCK})`;
    try {
      await drizzleMigrate(drizzle(sql), {
        migrationsFolder: TRACKER_MIGRATIONS_DIR,
        migrationsSchema: "tracker",
        migrationsTable: "__drizzle_migrations",
      });
    } finally {
      await sql`select pg_advisory_unlock(${TRACKER_MIGRATION_LOCK})`;
    }
  } finally {
    await sql.end();
  }
}
