import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { type Connection, connect, dataRoot } from "@berth/db";
import { ensureDevAccount } from "@berth/registry";
import {
  forkService,
  type Running,
  type Service,
  spawnService,
  stopAll,
  waitReady,
} from "./children";
import { choosePorts, portEnv, type StackPorts, serverProcesses, stackPorts } from "./ports";
import { maskKey, postgresLine, serviceLines } from "./summary";

// `pnpm start`: PostgreSQL (embedded unless DATABASE_URL), then the tracker, the server (one
// listener per region) and the worker as child processes. Ctrl-C stops them all cleanly.

/** A launch that cannot go on: its message, and no stack trace (nothing here is a bug). */
function fail(message: string): never {
  console.error(`pnpm start: ${message}`);
  process.exit(1);
}

// The optional .env at the repository root is read here, before anything else, so the ports
// this launcher waits on and every service it starts see the same settings (the environment
// wins over the file).
const dotEnv = fileURLToPath(new URL("../../../.env", import.meta.url));
if (existsSync(dotEnv)) process.loadEnvFile(dotEnv);

const host = process.env.BERTH_HOST || "127.0.0.1";
let ports: StackPorts;
let servers: number;
let conn: Connection;
let dev: Awaited<ReturnType<typeof ensureDevAccount>>;
try {
  ports = await choosePorts(stackPorts(process.env));
  servers = serverProcesses(process.env);
  // Postgres in its own process group: Ctrl-C reaches this launcher, which stops Postgres
  // once the services are gone, not under them.
  conn = await connect({ max: 2, ownProcessGroup: true });
  dev = await ensureDevAccount(conn.db, {
    apiKey: process.env.BERTH_DEV_API_KEY || undefined,
  });
  await conn.sql.end();
} catch (error) {
  fail((error as Error).message);
}

// Every service is handed the ports chosen here, the database this launcher opened and the
// data directory as an absolute path, so they listen where the launcher waits, reach the
// tracker it starts, and keep their files in one place whatever their working directory.
const shared = {
  DATABASE_URL: conn.url,
  BERTH_DATA_DIR: dataRoot(),
  BERTH_LOG_LEVEL: process.env.BERTH_LOG_LEVEL || "warn",
  // Ctrl-C is this launcher's to act on: it stops the services in STOP_ORDER (see onStopSignals).
  BERTH_SUPERVISED: "1",
  ...portEnv(ports),
};
// BERTH_SERVER_PROCESSES reaches the servers too: each takes its share of per-process limits.
const serverEnv = { ...shared, BERTH_SERVER_PROCESSES: String(servers) };
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
    env: serverEnv,
    readyUrl: `http://${host}:${ports.regions[0]!.port}/readyz`,
  },
  {
    name: "worker",
    entry: "worker/src/main.ts",
    env: shared,
    readyUrl: `http://${host}:${ports.worker}/readyz`,
  },
];

// Producers first, then the worker (it finishes the batch it is sending), then the tracker.
const STOP_ORDER = ["server", "worker", "tracker"];
const running: Running[] = [];
let stopped: Promise<never> | undefined;
/**
 * Stop the services, then Postgres, then exit. Ctrl-C reaches this process twice (from the
 * terminal and forwarded by pnpm), and the services too, which leave it to this launcher
 * (BERTH_SUPERVISED): every call after the first waits for the same stop.
 */
function stop(reason: string, code = 0): Promise<never> {
  stopped ??= (async () => {
    console.log(`\n${reason}: stopping`);
    await stopAll(running, STOP_ORDER);
    await conn.embedded?.stop();
    console.log("stopped");
    process.exit(code);
  })();
  return stopped;
}
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGHUP", () => void stop("SIGHUP"));

try {
  const waits: Promise<void>[] = [];
  for (const service of services) {
    // A service exits 0 only when told to stop (a signal sent to it by someone else): the
    // stack stops with it, as cleanly.
    const onExit = (code: number | null) => {
      if (!stopped) void stop(`${service.name} exited with code ${code}`, code === 0 ? 0 : 1);
    };
    if (service.name === "server" && servers > 1) {
      waits.push(forkService(service, servers, onExit, running));
    } else {
      const r = spawnService(service, onExit);
      running.push(r);
      waits.push(waitReady(r));
    }
  }
  await Promise.all(waits);
} catch (error) {
  await stop((error as Error).message, 1);
}

// A key from the environment is the caller's already: shown masked, never in full.
const key = process.env.BERTH_DEV_API_KEY
  ? `${maskKey(process.env.BERTH_DEV_API_KEY)}   (from BERTH_DEV_API_KEY)`
  : dev.apiKey
    ? `${dev.apiKey}   (shown once; stored only as a hash)`
    : "(printed when the account was first created; set BERTH_DEV_API_KEY to choose one)";
for (const line of serviceLines({
  host,
  ports,
  postgres: conn.embedded ? postgresLine(conn.embedded, process.cwd()) : "DATABASE_URL",
  key,
  servers,
})) {
  console.log(line);
}
console.log(
  `Next: pnpm berth login --url http://${host}:${ports.regions[0]!.port} --api-key <key>   (Ctrl-C stops everything)`,
);
