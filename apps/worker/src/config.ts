import { hostname } from "node:os";
import { DEFAULT_ROUTING, parseRoutingTable, type RoutingTable } from "@berth/core";
import {
  ConfigError,
  embeddedDatabase,
  int,
  loadEnv,
  port,
  refuseBuiltInSecrets,
} from "@berth/service";
import {
  checkHttpUrl,
  DEFAULT_INGESTION_KEY,
  DEFAULT_TRACKER_PORT,
  parseRegionTable,
  type RegionTable,
  usesBuiltInKey,
} from "@berth/tracker-client";
import { z } from "zod";
import { type DestinationSpec, loadDestinationsFile } from "./destination-config";

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
  port: defaultWorkerPort(DEFAULT_TRACKER_PORT),
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

const workerEnv = {
  BERTH_TRACKER_PORT: port.default(DEFAULT_TRACKER_PORT),
  BERTH_TRACKER_URL: z.string().optional(),
  BERTH_TRACKER_KEYS: z.string().min(1).optional(),
  BERTH_ROUTING: z.string().optional(),
  /** A file (JSON, or YAML by its extension) listing the destinations beside the tracker. */
  BERTH_DESTINATIONS: z.string().optional(),
  /** Unset: the tracker's port + 1, so stacks on different tracker ports never collide. */
  BERTH_WORKER_PORT: port.optional(),
  BERTH_WORKER_BATCH_SIZE: int(1, 10_000).optional(),
  BERTH_WORKER_CONCURRENCY: int(1, 64).optional(),
  BERTH_WORKER_MAX_LINES: int(1, 10_000).optional(),
  BERTH_WORKER_MAX_BYTES: int(1024, 9 * 1024 * 1024).optional(),
  BERTH_WORKER_LEASE_MS: int(100, 3_600_000).optional(),
  BERTH_WORKER_POLL_MS: int(10, 3_600_000).optional(),
  BERTH_WORKER_MAX_ATTEMPTS: int(1, 1000).optional(),
  BERTH_WORKER_RETRY_BASE_MS: int(1, 3_600_000).optional(),
  BERTH_WORKER_RETRY_MAX_MS: int(1, 86_400_000).optional(),
  BERTH_WORKER_TIMEOUT_MS: int(100, 600_000).optional(),
  BERTH_WORKER_SHUTDOWN_MS: int(0, 600_000).optional(),
};

export interface WorkerConfig extends WorkerSettings {
  databaseUrl?: string;
  destinations: DestinationSpec[];
  logLevel: string;
}

/**
 * The worker's port when BERTH_WORKER_PORT is unset: next to the tracker's, so a second stack
 * on other tracker port gets another worker port too; a tracker on any port (0) means any here.
 */
export function defaultWorkerPort(trackerPort: number): number {
  return trackerPort === 0 || trackerPort === 65_535 ? 0 : trackerPort + 1;
}

/** Read and validate the environment; a bad value throws a ConfigError naming the variable. */
export function loadWorkerConfig(
  env: Record<string, string | undefined> = process.env,
): WorkerConfig {
  const e = loadEnv(workerEnv, env);
  refuseBuiltInSecrets(e.BERTH_HOST, [
    embeddedDatabase(e.DATABASE_URL),
    { variable: "BERTH_TRACKER_KEYS", builtIn: usesBuiltInKey(e.BERTH_TRACKER_KEYS) },
  ]);
  const trackerUrl = e.BERTH_TRACKER_URL?.trim() || `http://127.0.0.1:${e.BERTH_TRACKER_PORT}`;
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
    destinations: e.BERTH_DESTINATIONS?.trim() ? loadDestinationsFile(e.BERTH_DESTINATIONS) : [],
    logLevel: e.BERTH_LOG_LEVEL,
    trackerUrl,
    trackerKeys: parseRegionTable(
      "BERTH_TRACKER_KEYS",
      e.BERTH_TRACKER_KEYS ?? DEFAULT_INGESTION_KEY,
    ),
    routing,
    host: e.BERTH_HOST,
    port: e.BERTH_WORKER_PORT ?? defaultWorkerPort(e.BERTH_TRACKER_PORT),
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
