import {
  ConfigError,
  DEFAULT_INGESTION_KEY,
  DEFAULT_QUERY_KEY,
  DEFAULT_TRACKER_PORT,
  parseRegionTable,
  type RegionTable,
} from "@berth/tracker-client";
import { z } from "zod";

const envSchema = z.object({
  DATABASE_URL: z.url().optional(),
  BERTH_HOST: z.string().min(1).default("127.0.0.1"),
  BERTH_TRACKER_PORT: z.coerce.number().int().min(0).max(65_535).default(DEFAULT_TRACKER_PORT),
  /** One ingestion key for every region, or `region=key,...` (then only those regions exist). */
  BERTH_TRACKER_KEYS: z.string().min(1).default(DEFAULT_INGESTION_KEY),
  BERTH_TRACKER_QUERY_KEY: z.string().min(8).default(DEFAULT_QUERY_KEY),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export interface TrackerConfig {
  databaseUrl?: string;
  host: string;
  port: number;
  ingestionKeys: RegionTable;
  queryKey: string;
  logLevel: string;
}

/** Read and validate the environment; a bad value throws a ConfigError naming the variable. */
export function loadTrackerConfig(env: NodeJS.ProcessEnv = process.env): TrackerConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0] ?? "environment")}: ${issue.message}`);
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    host: e.BERTH_HOST,
    port: e.BERTH_TRACKER_PORT,
    ingestionKeys: parseRegionTable("BERTH_TRACKER_KEYS", e.BERTH_TRACKER_KEYS),
    queryKey: e.BERTH_TRACKER_QUERY_KEY,
    logLevel: e.LOG_LEVEL,
  };
}
