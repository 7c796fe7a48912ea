import { hostname } from "node:os";
import { DEFAULT_ROUTING, parseRoutingTable, type RoutingTable } from "@berth/core";
import {
  ConfigError,
  checkHttpUrl,
  DEFAULT_INGESTION_KEY,
  DEFAULT_TRACKER_PORT,
  parseRegionTable,
  type RegionTable,
} from "@berth/tracker-client";
import { z } from "zod";

/** Everything the worker needs; `startWorker` fills the rest with these defaults. */
export interface WorkerSettings {
  /** BERTH_TRACKER_URL: a base URL for every region, or `region=endpoint,...`. */
  trackerUrl: string;
  /** Ingestion keys per tracker region. */
  trackerKeys: RegionTable;
  routing: RoutingTable;
  host: string;
  /** Port of the metrics/health server; 0 picks one. */
  port: number;
  /** Events claimed per batch. */
  batchSize: number;
  /** Batches in flight at once. */
  concurrency: number;
  /** Lines per ingestion request. */
  maxLines: number;
  /** Bytes per ingestion request (the ingestion API caps bodies at 10 MB). */
  maxBytes: number;
  leaseMs: number;
  /** Polling fallback when no notification arrives. */
  pollMs: number;
  /** Attempts (claims) before an event is dead-lettered. */
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  requestTimeoutMs: number;
  /** How long shutdown waits for in-flight requests before giving their leases back. */
  shutdownGraceMs: number;
  /** `hostname` of the ingestion API. */
  hostname: string;
}

export const WORKER_DEFAULTS: Omit<WorkerSettings, "trackerUrl" | "trackerKeys" | "routing"> = {
  host: "127.0.0.1",
  port: 7401,
  batchSize: 1000,
  concurrency: 4,
  maxLines: 1000,
  maxBytes: 4 * 1024 * 1024,
  leaseMs: 30_000,
  pollMs: 1000,
  maxAttempts: 25,
  retryBaseMs: 1000,
  retryMaxMs: 5 * 60_000,
  requestTimeoutMs: 10_000,
  shutdownGraceMs: 10_000,
  hostname: hostname(),
};

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max).optional();

const envSchema = z.object({
  DATABASE_URL: z.url().optional(),
  BERTH_HOST: z.string().min(1).optional(),
  BERTH_TRACKER_PORT: int(1, 65_535),
  BERTH_TRACKER_URL: z.string().optional(),
  BERTH_TRACKER_KEYS: z.string().min(1).optional(),
  BERTH_ROUTING: z.string().optional(),
  BERTH_WORKER_PORT: int(0, 65_535),
  BERTH_WORKER_BATCH_SIZE: int(1, 10_000),
  BERTH_WORKER_CONCURRENCY: int(1, 64),
  BERTH_WORKER_MAX_LINES: int(1, 10_000),
  BERTH_WORKER_MAX_BYTES: int(1024, 9 * 1024 * 1024),
  BERTH_WORKER_LEASE_MS: int(100, 3_600_000),
  BERTH_WORKER_POLL_MS: int(10, 3_600_000),
  BERTH_WORKER_MAX_ATTEMPTS: int(1, 1000),
  BERTH_WORKER_RETRY_BASE_MS: int(1, 3_600_000),
  BERTH_WORKER_RETRY_MAX_MS: int(1, 86_400_000),
  BERTH_WORKER_TIMEOUT_MS: int(100, 600_000),
  BERTH_WORKER_SHUTDOWN_MS: int(0, 600_000),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
});

export interface WorkerConfig extends WorkerSettings {
  databaseUrl?: string;
  logLevel: string;
}

/** Read and validate the environment; a bad value throws a ConfigError naming the variable. */
export function loadWorkerConfig(env: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`${String(issue.path[0] ?? "environment")}: ${issue.message}`);
  }
  const e = parsed.data;
  const trackerUrl =
    e.BERTH_TRACKER_URL?.trim() ||
    `http://127.0.0.1:${e.BERTH_TRACKER_PORT ?? DEFAULT_TRACKER_PORT}`;
  parseRegionTable("BERTH_TRACKER_URL", trackerUrl, checkHttpUrl);
  let routing = DEFAULT_ROUTING;
  if (e.BERTH_ROUTING?.trim()) {
    try {
      routing = parseRoutingTable(e.BERTH_ROUTING);
    } catch (error) {
      throw new ConfigError(`BERTH_ROUTING: ${(error as Error).message}`);
    }
  }
  const d = WORKER_DEFAULTS;
  const config: WorkerConfig = {
    databaseUrl: e.DATABASE_URL,
    logLevel: e.LOG_LEVEL,
    trackerUrl,
    trackerKeys: parseRegionTable(
      "BERTH_TRACKER_KEYS",
      e.BERTH_TRACKER_KEYS ?? DEFAULT_INGESTION_KEY,
    ),
    routing,
    host: e.BERTH_HOST ?? d.host,
    port: e.BERTH_WORKER_PORT ?? d.port,
    batchSize: e.BERTH_WORKER_BATCH_SIZE ?? d.batchSize,
    concurrency: e.BERTH_WORKER_CONCURRENCY ?? d.concurrency,
    maxLines: e.BERTH_WORKER_MAX_LINES ?? d.maxLines,
    maxBytes: e.BERTH_WORKER_MAX_BYTES ?? d.maxBytes,
    leaseMs: e.BERTH_WORKER_LEASE_MS ?? d.leaseMs,
    pollMs: e.BERTH_WORKER_POLL_MS ?? d.pollMs,
    maxAttempts: e.BERTH_WORKER_MAX_ATTEMPTS ?? d.maxAttempts,
    retryBaseMs: e.BERTH_WORKER_RETRY_BASE_MS ?? d.retryBaseMs,
    retryMaxMs: e.BERTH_WORKER_RETRY_MAX_MS ?? d.retryMaxMs,
    requestTimeoutMs: e.BERTH_WORKER_TIMEOUT_MS ?? d.requestTimeoutMs,
    shutdownGraceMs: e.BERTH_WORKER_SHUTDOWN_MS ?? d.shutdownGraceMs,
    hostname: d.hostname,
  };
  if (config.requestTimeoutMs >= config.leaseMs) {
    throw new ConfigError(
      `BERTH_WORKER_TIMEOUT_MS (${config.requestTimeoutMs}) must be below BERTH_WORKER_LEASE_MS (${config.leaseMs}), or leases expire while requests are still waiting`,
    );
  }
  return config;
}
