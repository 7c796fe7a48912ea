import { join } from "node:path";
import { embeddedDatabase, loadEnv, port, refuseBuiltInSecrets } from "@berth/service";
import {
  DEFAULT_INGESTION_KEY,
  DEFAULT_QUERY_KEY,
  DEFAULT_TRACKER_PORT,
  parseRegionTable,
  type RegionTable,
  usesBuiltInKey,
} from "@berth/tracker-client";
import { z } from "zod";

const trackerEnv = {
  BERTH_TRACKER_PORT: port.default(DEFAULT_TRACKER_PORT),
  /** One ingestion key for every region, or `region=key,...` (then only those regions exist). */
  BERTH_TRACKER_KEYS: z.string().min(1).optional(),
  BERTH_TRACKER_QUERY_KEY: z.string().min(8, "must be at least 8 characters").optional(),
  BERTH_DATA_DIR: z.string().min(1).default(".berth"),
  /** The checkpoint signing key (note key text); else one is made once under the data dir. */
  BERTH_TRACKER_SIGNING_KEY: z.string().startsWith("PRIVATE+KEY+").optional(),
};

export interface TrackerConfig {
  databaseUrl?: string;
  host: string;
  port: number;
  ingestionKeys: RegionTable;
  queryKey: string;
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
    logLevel: e.BERTH_LOG_LEVEL,
    signingKey: e.BERTH_TRACKER_SIGNING_KEY,
    signingKeyFile: join(e.BERTH_DATA_DIR, "tracker", "log-signing-key"),
  };
}
