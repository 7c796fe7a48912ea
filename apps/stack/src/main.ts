import { connect } from "@berth/db";
import { ensureDevAccount } from "@berth/registry";
import { type Running, type Service, spawnService, stopAll, waitReady } from "./children";
import { stackPorts } from "./ports";
import { maskKey, serviceLines } from "./summary";

// `pnpm start`: PostgreSQL (embedded unless DATABASE_URL), then the tracker, the server (one
// listener per region) and the worker as child processes. Ctrl-C stops them all cleanly.
const ports = stackPorts(process.env);
const host = process.env.BERTH_HOST || "127.0.0.1";
const conn = await connect({ max: 2 });
const dev = await ensureDevAccount(conn.db, { apiKey: process.env.BERTH_DEV_API_KEY || undefined });
await conn.sql.end();

// Every service gets the tracker's port, so the server's queries and the worker's deliveries
// reach the tracker this launcher starts, whatever port was chosen.
const shared = {
  DATABASE_URL: conn.url,
  BERTH_LOG_LEVEL: process.env.BERTH_LOG_LEVEL || "warn",
  BERTH_TRACKER_PORT: String(ports.tracker),
};
const services: Service[] = [
  {
    name: "tracker",
    entry: "tracker/src/main.ts",
    env: shared,
    readyUrl: `http://${host}:${ports.tracker}/readyz`,
  },
  {
    name: "server",
    entry: "server/src/main.ts",
    env: shared,
    readyUrl: `http://${host}:${ports.regions[0]!.port}/readyz`,
  },
  {
    name: "worker",
    entry: "worker/src/main.ts",
    env: { ...shared, BERTH_WORKER_PORT: String(ports.worker) },
    readyUrl: `http://${host}:${ports.worker}/readyz`,
  },
];

const running: Running[] = [];
let stopping = false;
async function stop(reason: string, code = 0): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log(`\n${reason}: stopping`);
    await stopAll(running);
    await conn.embedded?.stop();
    console.log("stopped");
  }
  process.exit(code);
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));

try {
  for (const service of services) {
    const r = spawnService(service, (code) => {
      if (!stopping) void stop(`${service.name} exited with code ${code}`, 1);
    });
    running.push(r);
  }
  await Promise.all(running.map((r) => waitReady(r)));
} catch (error) {
  await stop((error as Error).message, 1);
}

const key = dev.apiKey
  ? `${dev.apiKey}   (shown once; stored only as a hash)`
  : process.env.BERTH_DEV_API_KEY
    ? `${maskKey(process.env.BERTH_DEV_API_KEY)}   (from BERTH_DEV_API_KEY)`
    : "(printed when the account was first created; set BERTH_DEV_API_KEY to choose one)";
for (const line of serviceLines({
  host,
  ports,
  postgres: conn.embedded ? `embedded on 127.0.0.1:${conn.embedded.port}` : "DATABASE_URL",
  key,
})) {
  console.log(line);
}
console.log(
  `Next: pnpm berth login --url http://${host}:${ports.regions[0]!.port} --api-key <key>   (Ctrl-C stops everything)`,
);
