import { connect } from "@berth/db";
import { ConfigError } from "@berth/tracker-client";
import pino from "pino";
import { loadTrackerConfig } from "./config";
import { startTracker } from "./tracker";

// Process entry of the local Activity Tracker: env → tracker; SIGINT/SIGTERM stop it cleanly.
let config: ReturnType<typeof loadTrackerConfig>;
try {
  config = loadTrackerConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`tracker: bad configuration: ${error.message}`);
  process.exit(2);
}
// Logs go to stderr: stdout carries only the ready line a launcher reads.
const log = pino({ level: config.logLevel, base: { service: "tracker" } }, pino.destination(2));

// Without DATABASE_URL the tracker starts the embedded Postgres, as every Berth process does;
// it applies only its own migrations.
const conn = await connect({ url: config.databaseUrl, migrate: false, max: 1 });
await conn.sql.end();
const tracker = await startTracker({
  databaseUrl: conn.url,
  host: config.host,
  port: config.port,
  ingestionKeys: config.ingestionKeys,
  queryKey: config.queryKey,
  logger: log,
});
console.log(`tracker   ${tracker.url}`);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "stopping");
  await tracker.stop();
  await conn.embedded?.stop();
  process.exit(0);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
