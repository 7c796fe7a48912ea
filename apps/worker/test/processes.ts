import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestDatabase } from "@berth/db/testing";
import { type EntryProcess, runEntry } from "@berth/harness";

const pkgDir = fileURLToPath(new URL("..", import.meta.url));

/** The environment of a worker process for tests: quick polls, short backoff. */
export function workerEnv(
  t: TestDatabase,
  trackerUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: t.url,
    BERTH_TRACKER_URL: trackerUrl,
    BERTH_TRACKER_KEYS: "test-ingest",
    BERTH_WORKER_PORT: "0",
    BERTH_WORKER_LEASE_MS: "3000",
    BERTH_WORKER_TIMEOUT_MS: "2000",
    BERTH_WORKER_POLL_MS: "200",
    BERTH_WORKER_RETRY_BASE_MS: "50",
    BERTH_WORKER_RETRY_MAX_MS: "400",
    ...extra,
  };
}

/**
 * Run a script of this package as a real process (logging warnings only, unless `env` says
 * otherwise), leading a process group of its own so that `killGroup` takes down anything it
 * started too.
 */
export function runScript(
  script: string,
  env: Record<string, string>,
  args: string[] = [],
): EntryProcess {
  return runEntry(script, {
    cwd: pkgDir,
    env: { BERTH_LOG_LEVEL: "warn", ...env },
    args,
    detached: true,
  });
}

/** `text` in a file `name` of a fresh temporary folder (a BERTH_DESTINATIONS file): its path. */
export function tempFile(name: string, text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), "berth-worker-")), name);
  writeFileSync(file, text);
  return file;
}

/**
 * A worker process a test kills, once it is listening, and the one that takes over from it
 * on the same environment: `restart()` starts the second; `stop()`, for the test's finally,
 * kills the first's process group (if the test has not) and stops the second.
 */
export type Takeover = Awaited<ReturnType<typeof workerAndSuccessor>>;

export async function workerAndSuccessor(env: Record<string, string>) {
  const first = runScript("src/main.ts", env);
  try {
    await first.line(/^worker +http/m);
  } catch (error) {
    first.killGroup();
    throw error;
  }
  let second: EntryProcess | undefined;
  return {
    first,
    restart(): EntryProcess {
      second = runScript("src/main.ts", env);
      return second;
    },
    async stop(): Promise<void> {
      first.killGroup();
      second?.child.kill("SIGTERM");
      await second?.exited;
    },
  };
}
