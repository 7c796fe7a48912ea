/**
 * Berth's services as real processes for fault scripts, benchmarks and the tests that run
 * shortened versions of them: server, worker and tracker spawned as `node --import tsx
 * <entry>` (no wrapper process, so a SIGKILL reaches the service itself), and Postgres
 * embedded in a fresh directory, stoppable and restartable on the same port.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createDb, ensureDatabase, freePort, migrate, startEmbeddedPostgres } from "@berth/db";

/** The repository root: entries are spawned from it, where tsx resolves. */
export const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

export const INGESTION_KEY = "fault-ingestion-key";
export const QUERY_KEY = "fault-query-key-0123";

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  pid: number;
  /** Base URL (server: the us-south listener; worker: metrics server; tracker: base). */
  url: string;
  /** Every line the process wrote (stdout and stderr), for secret scans and diagnostics. */
  output: string[];
  /** Resolves with the exit code (or the signal's name) once the process is gone. */
  exited: Promise<number | string>;
  /** SIGKILL, no grace: what a crash looks like. */
  kill9(): Promise<void>;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  /** Keep at most this many output lines (the oldest go first); default 20,000. */
  maxLines?: number;
  /** Milliseconds to wait for the ready line; default 90 s (a busy machine is slow to load tsx). */
  readyTimeoutMs?: number;
  /** Node flags before the entry (e.g. --max-semi-space-size=32). */
  nodeFlags?: string[];
}

/**
 * Spawn and wait until ready: `ready` is a regular expression whose first group, in a line
 * the process prints, is its URL, or a URL whose /healthz must answer 200.
 */
function spawnService(
  name: string,
  entry: string,
  ready: RegExp | string,
  opts: SpawnOptions,
): Promise<ServiceProcess> {
  const child = spawn(
    process.execPath,
    [...(opts.nodeFlags ?? []), "--import", "tsx", join(ROOT, entry)],
    {
      cwd: ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const output: string[] = [];
  const maxLines = opts.maxLines ?? 20_000;
  let partial = "";
  const take = (chunk: Buffer) => {
    const text = partial + chunk.toString("utf8");
    const lines = text.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      output.push(line);
      if (output.length > maxLines) output.splice(0, output.length - maxLines);
    }
  };
  child.stdout!.on("data", take);
  child.stderr!.on("data", take);
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  const proc: Omit<ServiceProcess, "url"> = {
    name,
    child,
    pid: child.pid!,
    output,
    exited,
    async kill9() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
    async stop(graceMs = 15_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
      child.kill("SIGTERM");
      await exited;
      clearTimeout(timer);
    },
  };
  return new Promise((resolve, reject) => {
    const deadline = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${name} printed no ready line in time:\n${output.slice(-20).join("\n")}`));
    }, opts.readyTimeoutMs ?? 90_000);
    let done = false;
    const succeed = (url: string) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      resolve({ ...proc, url });
    };
    if (typeof ready === "string") {
      const poll = async () => {
        while (!done && child.exitCode === null && child.signalCode === null) {
          try {
            const res = await fetch(`${ready}/healthz`, { signal: AbortSignal.timeout(2000) });
            if (res.ok) return succeed(ready);
          } catch {
            // not listening yet
          }
          await sleep(100);
        }
      };
      void poll();
    } else {
      const check = () => {
        for (const line of output) {
          const m = ready.exec(line);
          if (m) {
            child.stdout!.off("data", check);
            return succeed(m[1]!);
          }
        }
      };
      child.stdout!.on("data", check);
    }
    void exited.then((code) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      reject(new Error(`${name} exited (${code}) before it was ready:\n${output.join("\n")}`));
    });
  });
}

export interface ServerProcessOptions extends SpawnOptions {
  databaseUrl: string;
  dataDir: string;
  /** Port of the us-south listener (default: a free one; pass it again to restart on the same URL). */
  port?: number;
  trackerUrl?: string;
  logLevel?: string;
}

/** `apps/server/src/main.ts` serving us-south; ready once /healthz answers. */
export async function startServerProcess(opts: ServerProcessOptions): Promise<ServiceProcess> {
  const port = opts.port || (await freePort());
  return spawnService("server", "apps/server/src/main.ts", `http://127.0.0.1:${port}`, {
    ...opts,
    env: {
      DATABASE_URL: opts.databaseUrl,
      BERTH_DATA_DIR: opts.dataDir,
      BERTH_REGIONS: `us-south=${port}`,
      BERTH_LOG_LEVEL: opts.logLevel ?? "info",
      BERTH_TRACKER_QUERY_KEY: QUERY_KEY,
      ...(opts.trackerUrl ? { BERTH_TRACKER_URL: opts.trackerUrl } : {}),
      ...opts.env,
    },
  });
}

export interface TrackerProcessOptions extends SpawnOptions {
  databaseUrl: string;
  port?: number;
}

/** `apps/tracker/src/main.ts` (every region, the fault keys). */
export function startTrackerProcess(opts: TrackerProcessOptions): Promise<ServiceProcess> {
  return spawnService("tracker", "apps/tracker/src/main.ts", /^tracker\s+(http:\/\/\S+)/, {
    ...opts,
    env: {
      DATABASE_URL: opts.databaseUrl,
      BERTH_TRACKER_PORT: String(opts.port ?? 0),
      BERTH_TRACKER_KEYS: INGESTION_KEY,
      BERTH_TRACKER_QUERY_KEY: QUERY_KEY,
      BERTH_LOG_LEVEL: "warn",
      ...opts.env,
    },
  });
}

export interface WorkerProcessOptions extends SpawnOptions {
  databaseUrl: string;
  trackerUrl: string;
}

/** `apps/worker/src/main.ts` delivering to `trackerUrl`; its URL is the metrics server's. */
export function startWorkerProcess(opts: WorkerProcessOptions): Promise<ServiceProcess> {
  return spawnService("worker", "apps/worker/src/main.ts", /^worker\s+(http:\/\/\S+)\/metrics/, {
    ...opts,
    env: {
      DATABASE_URL: opts.databaseUrl,
      BERTH_TRACKER_URL: opts.trackerUrl,
      BERTH_TRACKER_KEYS: INGESTION_KEY,
      BERTH_WORKER_PORT: "0",
      BERTH_LOG_LEVEL: "warn",
      ...opts.env,
    },
  });
}

export interface Postgres {
  /** URL of the `berth` database (migrated). */
  url: string;
  port: number;
  /** pid of the postmaster while it runs. */
  pid(): number | undefined;
  /** Stop the server (fast shutdown: clients are cut). */
  stop(): Promise<void>;
  /** Start it again on the same port and data. */
  start(): Promise<void>;
  /** Stop and remove the data. */
  destroy(): Promise<void>;
}

/** An embedded Postgres in a fresh temporary directory, with the `berth` database migrated. */
export async function startPostgres(): Promise<Postgres> {
  const parent = mkdtempSync(join(tmpdir(), "berth-fault-pg-"));
  // initdb runs as the unprivileged postgres user, which must be able to enter the folder.
  chmodSync(parent, 0o755);
  const dataDir = join(parent, "data");
  const port = await freePort();
  let server = await startEmbeddedPostgres({ dataDir, port, persistent: true });
  const url = await ensureDatabase(server.url, "berth");
  await migrate(url);
  let running = true;
  return {
    url,
    port,
    pid() {
      if (!running) return undefined;
      try {
        return Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
      } catch {
        return undefined;
      }
    },
    async stop() {
      if (!running) return;
      running = false;
      await server.stop();
    },
    async start() {
      if (running) return;
      server = await startEmbeddedPostgres({ dataDir, port, persistent: true });
      running = true;
    },
    async destroy() {
      if (running) await server.stop();
      running = false;
      rmSync(parent, { recursive: true, force: true });
    },
  };
}

/** A fresh database on an existing server (e.g. the system Postgres), migrated. */
export async function freshDatabase(
  adminUrl: string,
): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `berth_fault_${randomBytes(5).toString("hex")}`;
  const { sql: admin } = createDb(adminUrl, { max: 1 });
  await admin.unsafe(`create database "${name}"`);
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  const url = u.toString();
  await migrate(url);
  return {
    url,
    async drop() {
      await admin.unsafe(`drop database if exists "${name}" with (force)`).catch(() => {});
      await admin.end();
    },
  };
}

/**
 * The database a benchmark runs on: a fresh one on DATABASE_URL's server when it is set,
 * else an embedded Postgres of its own. `close` drops or stops it.
 */
export async function benchDatabase(): Promise<{ url: string; close(): Promise<void> }> {
  if (process.env.DATABASE_URL) {
    const fresh = await freshDatabase(process.env.DATABASE_URL);
    return { url: fresh.url, close: () => fresh.drop() };
  }
  const pg = await startPostgres();
  return { url: pg.url, close: () => pg.destroy() };
}

/** Poll `probe` until it returns a value other than undefined, or fail after `ms`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  ms = 60_000,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Resident set size of a process in bytes (Linux), or undefined once it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb ? Number(kb) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
