import { connect } from "@berth/db";
import { configOrExit, onStopSignals } from "@berth/service";
import pino from "pino";
import { loadTrackerConfig } from "./config";
import { startTracker } from "./tracker";

// Process entry of the local Activity Tracker: env → tracker; a stop signal stops it cleanly.
const config = configOrExit("tracker", () => loadTrackerConfig());
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
  signingKey: config.signingKey,
  signingKeyFile: config.signingKeyFile,
  maxTailsPerAccount: config.maxTailsPerAccount,
  logger: log,
});
console.log(`tracker   ${tracker.url}`);
// Users pin this key to verify checkpoints (berth events-verify --key).
console.log(`log key   ${tracker.verifierKey}`);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "stopping");
  await tracker.stop();
  await conn.embedded?.stop();
  process.exit(0);
}
onStopSignals((reason) => void stop(reason));
