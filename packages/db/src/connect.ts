import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { createDb, type Db, type Sql } from "./client";
import { type EmbeddedServer, startEmbeddedPostgres } from "./embedded";
import { migrate } from "./migrate";

export interface Connection {
  db: Db;
  sql: Sql;
  url: string;
  /** Set when this process started its own Postgres. */
  embedded?: EmbeddedServer;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Overrides DATABASE_URL. */
  url?: string;
  /** Where the embedded Postgres keeps its data; default `$BERTH_DATA_DIR/pg`. */
  dataDir?: string;
  /** Apply migrations (default true). */
  migrate?: boolean;
  max?: number;
  log?: (line: string) => void;
  /** Start the embedded Postgres in its own process group (see startEmbeddedPostgres). */
  ownProcessGroup?: boolean;
}

/**
 * Connect to `DATABASE_URL` when set, otherwise start an embedded Postgres under the data
 * directory, create the `berth` database on first use, and apply migrations.
 */
export async function connect(opts: ConnectOptions = {}): Promise<Connection> {
  let url = opts.url ?? process.env.DATABASE_URL;
  let embedded: EmbeddedServer | undefined;
  if (!url) {
    const dataDir = opts.dataDir ?? join(dataRoot(), "pg");
    embedded = await startEmbeddedPostgres({
      dataDir,
      ...(opts.log ? { log: opts.log } : {}),
      ...(opts.ownProcessGroup ? { ownProcessGroup: true } : {}),
    });
    url = await ensureDatabase(embedded.url, "berth");
  }
  if (opts.migrate !== false) await migrate(url);
  const { db, sql } = createDb(url, { max: opts.max });
  return {
    db,
    sql,
    url,
    embedded,
    async close() {
      await sql.end({ timeout: 5 });
      await embedded?.stop();
    },
  };
}

/** Create `name` on the server of `adminUrl` unless it exists; return its URL. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  const { sql } = createDb(adminUrl, { max: 1 });
  try {
    const rows = await sql`select 1 from pg_database where datname = ${name}`;
    if (rows.length === 0) await sql.unsafe(`create database "${name}"`);
  } finally {
    await sql.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * `BERTH_DATA_DIR`, resolved against the workspace root (pnpm runs package scripts inside
 * the package folder, but the data belongs to the checkout), default `.berth`.
 */
export function dataRoot(): string {
  return resolve(workspaceRoot(process.cwd()), process.env.BERTH_DATA_DIR ?? ".berth");
}

function workspaceRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, "pnpm-workspace.yaml"))) {
    const up = dirname(dir);
    if (up === dir) return from;
    dir = up;
  }
  return dir;
}
