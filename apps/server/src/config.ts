import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, resolve } from "node:path";
import {
  DEFAULT_ROUTING,
  isRegionName,
  parseRoutingTable,
  REGION_NAMES,
  type RegionName,
  type RoutingTable,
} from "@berth/core";
import { type BuildLimits, DEFAULT_TRASH_DAYS, parseStorageSpec } from "@berth/registry";
import {
  ConfigError,
  embeddedDatabase,
  isLoopback,
  loadEnv,
  port,
  refuseBuiltInSecrets,
} from "@berth/service";
import {
  checkHttpUrl,
  DEFAULT_QUERY_KEY,
  DEFAULT_TRACKER_PORT,
  parseRegionTable,
  usesBuiltInKey,
} from "@berth/tracker-client";
import { z } from "zod";
import { parseTrustedProxies } from "./auth-limit";
import { MIN_TOKEN_SECRET_LENGTH } from "./token-secret";

export interface RegionListener {
  region: RegionName;
  port: number;
}

export interface ServerConfig {
  databaseUrl?: string;
  dataDir: string;
  host: string;
  regions: RegionListener[];
  logLevel: string;
  devApiKey?: string;
  /** HMAC key of bearer tokens shared by the processes of a region; absent: kept in the data dir. */
  tokenSecret?: string;
  /** Failed authentications allowed per client address and window; 0 disables the limit. */
  authLimit: { maxFailures: number; windowMs: number };
  /** Proxies (addresses, CIDR ranges) whose X-Forwarded-For names the client; absent: none. */
  trustedProxies?: string[];
  /** Idle connections and slow request bodies. */
  timeouts: { idleMs: number; minBodyBytesPerSecond: number; bodyWindowMs: number };
  /** Largest blob a push may upload; absent: DEFAULT_MAX_BLOB_BYTES (10 GiB). */
  maxBlobBytes?: number;
  /** Staged build contexts per account, and builds running at once (BERTH_BUILD*); absent: defaults. */
  builds?: Partial<BuildLimits>;
  /** BERTH_STORAGE: where blobs are (see parseStorageSpec); absent: the data directory's blobs/. */
  storage?: string;
  /** BERTH_BLOB_REDIRECTS: answer blob GETs with a redirect where the storage can (S3). */
  blobRedirects: boolean;
  /** BERTH_TRASH_DAYS: how long a deleted image stays restorable in the trash. */
  trashDays: number;
  /** BERTH_DB_CONNECTIONS: the process's pool of database connections. */
  dbConnections: number;
}

export { ConfigError };

/**
 * The server's own settings, on top of the common ones (DATABASE_URL, BERTH_HOST,
 * BERTH_LOG_LEVEL). A new setting is one line here and one field in `loadConfig`.
 */
function atLeastOne(what: string) {
  return z.coerce
    .number({ message: `must be ${what}` })
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .optional();
}

const serverEnv = {
  BERTH_DATA_DIR: z.string().default(".berth"),
  BERTH_PORT: port.default(5000),
  BERTH_REGIONS: z.string().optional(),
  BERTH_DEV_API_KEY: z.string().min(20, "must be at least 20 characters").optional(),
  BERTH_AUTH_FAILURE_LIMIT: z.coerce
    .number({ message: "must be a number of failures" })
    .int("must be a whole number")
    .min(0, "must be 0 (no limit) or more")
    .default(30),
  BERTH_AUTH_FAILURE_WINDOW_SECONDS: z.coerce
    .number({ message: "must be a number of seconds" })
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .max(86_400, "must be at most a day")
    .default(60),
  BERTH_TRUSTED_PROXIES: z
    .string()
    .optional()
    .transform((spec, ctx) => {
      try {
        return parseTrustedProxies(spec);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
        return z.NEVER;
      }
    }),
  BERTH_IDLE_TIMEOUT_SECONDS: z.coerce
    .number({ message: "must be a number of seconds" })
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .max(3600, "must be at most an hour")
    .default(60),
  BERTH_MIN_UPLOAD_BYTES_PER_SECOND: z.coerce
    .number({ message: "must be a number of bytes a second" })
    .int("must be a whole number")
    .min(0, "must be 0 (no minimum) or more")
    .default(1024),
  BERTH_MAX_BLOB_BYTES: z.coerce
    .number({ message: "must be a number of bytes" })
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .optional(),
  BERTH_BUILD_CONTEXTS_PER_ACCOUNT: atLeastOne("a number of contexts"),
  BERTH_BUILD_CONTEXT_BYTES_PER_ACCOUNT: atLeastOne("a number of bytes"),
  BERTH_BUILDS_AT_ONCE: atLeastOne("a number of builds"),
  BERTH_BUILDS_AT_ONCE_PER_ACCOUNT: atLeastOne("a number of builds"),
  BERTH_STORAGE: z
    .string()
    .optional()
    .superRefine((spec, ctx) => {
      try {
        parseStorageSpec(spec, ".");
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
      }
    }),
  BERTH_BLOB_REDIRECTS: z
    .enum(["on", "off", "true", "false", "1", "0"], { message: "must be on or off" })
    .default("on")
    .transform((v) => v === "on" || v === "true" || v === "1"),
  BERTH_TRASH_DAYS: z.coerce
    .number({ message: "must be a number of days" })
    .int("must be a whole number of days")
    .min(1, "must be at least 1 (a deleted image must stay restorable for a while)")
    .max(3650, "must be at most 3650 (ten years)")
    .default(DEFAULT_TRASH_DAYS),
  BERTH_SERVER_PROCESSES: z.coerce
    .number({ message: "must be a number of processes" })
    .int("must be a whole number")
    .min(1, "must be at least 1")
    .max(64, "must be at most 64")
    .default(1),
  BERTH_DB_CONNECTIONS: z.coerce
    .number({ message: "must be a number of connections" })
    .int("must be a whole number")
    .min(2, "must be at least 2")
    .max(100, "must be at most 100")
    .optional(),
  BERTH_TOKEN_SECRET: z
    .string()
    .min(MIN_TOKEN_SECRET_LENGTH, `must be at least ${MIN_TOKEN_SECRET_LENGTH} characters`)
    .optional(),
};

/**
 * The server's configuration from the environment (DESIGN §7). Empty values count as
 * unset. A bad value throws a ConfigError naming the variable.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): ServerConfig {
  const e = loadEnv(serverEnv, env);
  refuseBuiltInSecrets(e.BERTH_HOST, [embeddedDatabase(e.DATABASE_URL)]);
  return {
    ...(e.DATABASE_URL ? { databaseUrl: e.DATABASE_URL } : {}),
    dataDir: e.BERTH_DATA_DIR,
    host: e.BERTH_HOST,
    regions: parseRegions(e.BERTH_REGIONS, e.BERTH_PORT),
    logLevel: e.BERTH_LOG_LEVEL,
    ...(e.BERTH_DEV_API_KEY ? { devApiKey: e.BERTH_DEV_API_KEY } : {}),
    ...(e.BERTH_TOKEN_SECRET ? { tokenSecret: e.BERTH_TOKEN_SECRET } : {}),
    authLimit: {
      maxFailures: shareOfLimit(e.BERTH_AUTH_FAILURE_LIMIT, e.BERTH_SERVER_PROCESSES),
      windowMs: e.BERTH_AUTH_FAILURE_WINDOW_SECONDS * 1000,
    },
    ...(e.BERTH_TRUSTED_PROXIES.length ? { trustedProxies: e.BERTH_TRUSTED_PROXIES } : {}),
    timeouts: {
      idleMs: e.BERTH_IDLE_TIMEOUT_SECONDS * 1000,
      minBodyBytesPerSecond: e.BERTH_MIN_UPLOAD_BYTES_PER_SECOND,
      bodyWindowMs: 30_000,
    },
    ...(e.BERTH_MAX_BLOB_BYTES ? { maxBlobBytes: e.BERTH_MAX_BLOB_BYTES } : {}),
    ...buildsConfig(e),
    ...(e.BERTH_STORAGE ? { storage: e.BERTH_STORAGE } : {}),
    blobRedirects: e.BERTH_BLOB_REDIRECTS,
    trashDays: e.BERTH_TRASH_DAYS,
    dbConnections: e.BERTH_DB_CONNECTIONS ?? defaultConnections(e.DATABASE_URL),
  };
}

/** postgres.js's own default, for a database elsewhere whose cores are unknown. */
const REMOTE_DATABASE_CONNECTIONS = 10;

/**
 * A database on this machine (the embedded one, or a loopback DATABASE_URL) shares its cores
 * with this process: twice as many connections as cores keeps them busy (Postgres's own rule
 * of thumb), while more only queue on the same cores and cost each query its own write and
 * wake-up where fewer connections pipeline them. Issue 15, 2 cores, bench:api, 2 interleaved
 * invocations × 3 runs: 4 connections against 10, audited manifest GET 2,007/1,927 against
 * 1,238/1,219 req/s, unaudited quota.get 4,014/3,982 against 2,723/2,797.
 */
function defaultConnections(databaseUrl: string | undefined): number {
  let local = databaseUrl === undefined;
  if (!local) {
    try {
      local = isLoopback(new URL(databaseUrl!).hostname);
    } catch {
      local = false;
    }
  }
  return local ? Math.max(4, 2 * availableParallelism()) : REMOTE_DATABASE_CONNECTIONS;
}

/**
 * Each of the BERTH_SERVER_PROCESSES processes sharing a port counts failed authentications
 * on its own, and connections go to each in turn: each allows its share, so that together
 * they allow no more than the limit (at least one each; 0 stays no limit).
 */
function shareOfLimit(limit: number, processes: number): number {
  return limit === 0 ? 0 : Math.max(1, Math.floor(limit / processes));
}

function buildsConfig(e: {
  BERTH_BUILD_CONTEXTS_PER_ACCOUNT?: number | undefined;
  BERTH_BUILD_CONTEXT_BYTES_PER_ACCOUNT?: number | undefined;
  BERTH_BUILDS_AT_ONCE?: number | undefined;
  BERTH_BUILDS_AT_ONCE_PER_ACCOUNT?: number | undefined;
}): { builds?: Partial<BuildLimits> } {
  const builds: Partial<BuildLimits> = {
    ...(e.BERTH_BUILD_CONTEXTS_PER_ACCOUNT !== undefined
      ? { contextsPerAccount: e.BERTH_BUILD_CONTEXTS_PER_ACCOUNT }
      : {}),
    ...(e.BERTH_BUILD_CONTEXT_BYTES_PER_ACCOUNT !== undefined
      ? { contextBytesPerAccount: e.BERTH_BUILD_CONTEXT_BYTES_PER_ACCOUNT }
      : {}),
    ...(e.BERTH_BUILDS_AT_ONCE !== undefined ? { concurrentBuilds: e.BERTH_BUILDS_AT_ONCE } : {}),
    ...(e.BERTH_BUILDS_AT_ONCE_PER_ACCOUNT !== undefined
      ? { concurrentBuildsPerAccount: e.BERTH_BUILDS_AT_ONCE_PER_ACCOUNT }
      : {}),
  };
  return Object.keys(builds).length > 0 ? { builds } : {};
}

/** Where `events.query` and `events.tail` read the caller's events. */
export interface EventsConfig {
  tracker: { url: string; queryKey: string };
  routing: RoutingTable;
}

const eventsEnv = {
  BERTH_TRACKER_PORT: port.default(DEFAULT_TRACKER_PORT),
  BERTH_TRACKER_URL: z.string().optional(),
  BERTH_TRACKER_QUERY_KEY: z.string().min(8, "must be at least 8 characters").optional(),
  BERTH_ROUTING: z.string().optional(),
};

/**
 * The tracker the server reads events from: BERTH_TRACKER_URL (a base URL, or a
 * `region=endpoint,...` table, as the worker reads it; default the local tracker on
 * BERTH_TRACKER_PORT), its query key BERTH_TRACKER_QUERY_KEY (default the local tracker's,
 * refused when BERTH_HOST is reachable from other machines), and BERTH_ROUTING, which names
 * the tracker region a listener's events go to.
 */
export function loadEventsConfig(
  env: Record<string, string | undefined> = process.env,
): EventsConfig {
  const e = loadEnv(eventsEnv, env);
  refuseBuiltInSecrets(e.BERTH_HOST, [
    {
      variable: "BERTH_TRACKER_QUERY_KEY",
      builtIn: usesBuiltInKey(e.BERTH_TRACKER_QUERY_KEY, DEFAULT_QUERY_KEY),
    },
  ]);
  const url = e.BERTH_TRACKER_URL?.trim() || `http://127.0.0.1:${e.BERTH_TRACKER_PORT}`;
  parseRegionTable("BERTH_TRACKER_URL", url, checkHttpUrl);
  let routing = DEFAULT_ROUTING;
  try {
    if (e.BERTH_ROUTING) routing = parseRoutingTable(e.BERTH_ROUTING);
  } catch (error) {
    throw new ConfigError(`BERTH_ROUTING: ${(error as Error).message}`);
  }
  return { tracker: { url, queryKey: e.BERTH_TRACKER_QUERY_KEY ?? DEFAULT_QUERY_KEY }, routing };
}

/**
 * `BERTH_REGIONS`: `us-south=5000,ap-north=5001`. One entry may omit its port and takes
 * BERTH_PORT. Unset: us-south on BERTH_PORT.
 */
export function parseRegions(spec: string | undefined, defaultPort: number): RegionListener[] {
  if (spec === undefined) return [{ region: "us-south", port: defaultPort }];
  const fail = (why: string): never => {
    throw new ConfigError(
      `BERTH_REGIONS: ${why} (expected region=port,..., e.g. us-south=5000,ap-north=5001)`,
    );
  };
  const out: RegionListener[] = [];
  for (const raw of spec.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const [name, portText, extra] = entry.split("=").map((s) => s.trim());
    if (extra !== undefined) fail(`"${entry}" has more than one "="`);
    if (!isRegionName(name)) {
      fail(`"${name}" is not a region (known: ${REGION_NAMES.join(", ")})`);
    }
    const region = name as RegionName;
    let p = defaultPort;
    if (portText !== undefined) {
      const r = port.safeParse(portText);
      if (!r.success || portText === "") fail(`"${entry}": port must be between 0 and 65535`);
      p = r.data!;
    }
    if (out.some((o) => o.region === region)) fail(`region ${region} is listed twice`);
    if (p !== 0 && out.some((o) => o.port === p)) fail(`port ${p} is used twice`);
    out.push({ region, port: p });
  }
  if (out.length === 0) fail("no regions listed");
  return out;
}

/**
 * Load `.env` from the workspace root (or the working directory) when there is one.
 * Variables already in the environment win over the file.
 */
export function loadDotEnv(from: string = process.cwd()): string | undefined {
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, ".env");
    if (existsSync(candidate)) {
      process.loadEnvFile(candidate);
      return candidate;
    }
    if (existsSync(join(dir, "pnpm-workspace.yaml"))) return undefined;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}
