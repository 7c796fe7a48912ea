import type { RegionName, RoutingTable } from "@berth/core";
import type { Db } from "@berth/db";
import type { BlobStore } from "@berth/registry";
import type { FastifyPluginAsync } from "fastify";
import type { AuthFailureLimiter } from "./auth-limit";
import type { ServerMetrics } from "./metrics";
import type { ClientTimeouts } from "./slow-clients";

// Apart from app.ts so that the plugins app.ts registers can name these without importing it.

/** What every route plugin of a region's app gets. */
export interface RegionAppDeps {
  region: RegionName;
  db: Db;
  store: BlobStore;
  metrics: ServerMetrics;
  now?: () => Date;
  /** The tracker `events.*` read; absent: they answer that events are unavailable. */
  tracker?: { url: string; queryKey: string };
  routing?: RoutingTable;
  /**
   * HMAC key of the registry's bearer tokens. Processes serving one region share it, so a
   * token from one is good at the others; absent: random per process.
   */
  tokenSecret?: string;
  /** Failed authentications per source; without it nothing is rate-limited. */
  authLimit?: AuthFailureLimiter;
  /** Idle connections and slow request bodies (default CLIENT_TIMEOUT_DEFAULTS). */
  timeouts?: ClientTimeouts;
  /** Largest blob a push may upload (default DEFAULT_MAX_BLOB_BYTES). */
  maxBlobBytes?: number;
  /** Days a deleted image stays in the trash (default DEFAULT_TRASH_DAYS). */
  trashDays?: number;
}

/** A route plugin of a region's app. */
export type BerthPlugin = FastifyPluginAsync<RegionAppDeps>;
