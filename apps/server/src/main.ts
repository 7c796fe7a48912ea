import { connect, dataRoot } from "@berth/db";
import { type BlobStore, openBlobStore } from "@berth/registry";
import { onStopSignals } from "@berth/service";
import { ConfigError, type EventsConfig, loadConfig, loadDotEnv, loadEventsConfig } from "./config";
import { createLogger } from "./logger";
import { startRetentionSchedule } from "./retention-schedule";
import { startServer } from "./server";
import { resolveTokenSecret } from "./token-secret";

// The server process: configuration, database (embedded or DATABASE_URL, migrated),
// blob store (BERTH_STORAGE), one listener per region, graceful shutdown.
let config: ReturnType<typeof loadConfig>;
let events: EventsConfig;
try {
  loadDotEnv();
  config = loadConfig();
  events = loadEventsConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}

const logger = createLogger({ level: config.logLevel });
const conn = await connect({
  ...(config.databaseUrl ? { url: config.databaseUrl } : {}),
  max: config.dbConnections,
  log: (line) => logger.debug({ component: "postgres" }, line),
});
let store: BlobStore;
try {
  store = await openBlobStore({
    spec: config.storage,
    dataDir: dataRoot(),
    redirects: config.blobRedirects,
  });
} catch (error) {
  logger.error((error as Error).message);
  logger.flush();
  console.error((error as Error).message);
  await conn.close();
  process.exit(1);
}
logger.info({ storage: store.description }, `blobs in ${store.description}`);
const tokenSecret = resolveTokenSecret({
  ...(config.tokenSecret ? { configured: config.tokenSecret } : {}),
  dataDir: dataRoot(),
});
if (tokenSecret.source === "created") {
  logger.info(
    "bearer token key created in the data directory (set BERTH_TOKEN_SECRET to share one)",
  );
}
startRetentionSchedule({ db: conn.db, store, logger, trashDays: config.trashDays });
const server = await startServer({
  db: conn.db,
  store,
  regions: config.regions,
  host: config.host,
  logger,
  tracker: events.tracker,
  routing: events.routing,
  tokenSecret: tokenSecret.secret,
  authLimit: config.authLimit,
  ...(config.trustedProxies ? { trustedProxies: config.trustedProxies } : {}),
  timeouts: config.timeouts,
  ...(config.maxBlobBytes ? { maxBlobBytes: config.maxBlobBytes } : {}),
  ...(config.builds ? { builds: config.builds } : {}),
  trashDays: config.trashDays,
});
for (const [region, url] of Object.entries(server.urls)) {
  logger.info({ region, url }, `region ${region} listening on ${url}`);
}

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, "shutting down");
  const force = setTimeout(() => {
    logger.error("shutdown took too long; exiting");
    process.exit(1);
  }, 15_000);
  force.unref();
  await server.close();
  await conn.close();
  logger.info("stopped");
  logger.flush();
  process.exit(0);
}
onStopSignals((reason) => void shutdown(reason));
