import { join } from "node:path";
import { embeddedDatabase, int, loadEnv, port, refuseBuiltInSecrets } from "@berth/service";
import {
  DEFAULT_INGESTION_KEY,
  DEFAULT_QUERY_KEY,
  DEFAULT_TRACKER_PORT,
  parseRegionTable,
  type RegionTable,
  usesBuiltInKey,
} from "@berth/tracker-client";
import { z } from "zod";
import { DEFAULT_MAX_TAILS_PER_ACCOUNT } from "./tail";

const trackerEnv = {
  BERTH_TRACKER_PORT: port.default(DEFAULT_TRACKER_PORT),
  /** One ingestion key for every region, or `region=key,...` (then only those regions exist). */
  BERTH_TRACKER_KEYS: z.string().min(1).optional(),
  BERTH_TRACKER_QUERY_KEY: z.string().min(8, "must be at least 8 characters").optional(),
  BERTH_DATA_DIR: z.string().min(1).default(".berth"),
  /** The checkpoint signing key (note key text); else one is made once under the data dir. */
  BERTH_TRACKER_SIGNING_KEY: z.string().startsWith("PRIVATE+KEY+").optional(),
  /** Open live tails per account on one tracker process. */
  BERTH_TRACKER_MAX_TAILS_PER_ACCOUNT: int(1, 1000).default(DEFAULT_MAX_TAILS_PER_ACCOUNT),
};

export interface TrackerConfig {
  databaseUrl?: string;
  host: string;
  port: number;
  ingestionKeys: RegionTable;
  queryKey: string;
  maxTailsPerAccount: number;
  logLevel: string;
  signingKey?: string;
  signingKeyFile: string;
}

/** Read and validate the environment; a bad value throws a ConfigError naming the variable. */
export function loadTrackerConfig(
  env: Record<string, string | undefined> = process.env,
): TrackerConfig {
  const e = loadEnv(trackerEnv, env);
  refuseBuiltInSecrets(e.BERTH_HOST, [
    embeddedDatabase(e.DATABASE_URL),
    { variable: "BERTH_TRACKER_KEYS", builtIn: usesBuiltInKey(e.BERTH_TRACKER_KEYS) },
    {
      variable: "BERTH_TRACKER_QUERY_KEY",
      builtIn: usesBuiltInKey(e.BERTH_TRACKER_QUERY_KEY, DEFAULT_QUERY_KEY),
    },
  ]);
  return {
    databaseUrl: e.DATABASE_URL,
    host: e.BERTH_HOST,
    port: e.BERTH_TRACKER_PORT,
    ingestionKeys: parseRegionTable(
      "BERTH_TRACKER_KEYS",
      e.BERTH_TRACKER_KEYS ?? DEFAULT_INGESTION_KEY,
    ),
    queryKey: e.BERTH_TRACKER_QUERY_KEY ?? DEFAULT_QUERY_KEY,
    maxTailsPerAccount: e.BERTH_TRACKER_MAX_TAILS_PER_ACCOUNT,
    logLevel: e.BERTH_LOG_LEVEL,
    signingKey: e.BERTH_TRACKER_SIGNING_KEY,
    signingKeyFile: join(e.BERTH_DATA_DIR, "tracker", "log-signing-key"),
  };
}
