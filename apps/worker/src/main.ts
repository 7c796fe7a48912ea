import { connect } from "@berth/db";
import { configOrExit, onStopSignals } from "@berth/service";
import pino from "pino";
import { loadWorkerConfig } from "./config";
import { startWorker } from "./worker";

// Process entry of the outbox worker: env → worker; a stop signal stops it gracefully.
const config = configOrExit("worker", () => loadWorkerConfig());
// Logs go to stderr: stdout carries only the ready line a launcher reads.
const log = pino({ level: config.logLevel, base: { service: "worker" } }, pino.destination(2));

// Without DATABASE_URL the embedded Postgres is used, as by every Berth process. Migrations
// are applied (advisory-locked) so the worker can start before the server.
const conn = await connect({ url: config.databaseUrl, max: 1 });
await conn.sql.end();
const { databaseUrl: _, logLevel: __, ...settings } = config;
const worker = await startWorker({ ...settings, databaseUrl: conn.url, logger: log });
console.log(`worker    ${worker.url}/metrics (${worker.workerId})`);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, "stopping");
  await worker.stop();
  await conn.embedded?.stop();
  process.exit(0);
}
onStopSignals((reason) => void stop(reason));
