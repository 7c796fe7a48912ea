import { type ChildProcess, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * `pnpm start` as a user runs it: its own process group (as a terminal's foreground job), so
 * a test can send SIGINT to the whole group as Ctrl-C does.
 */
export interface Launched {
  child: ChildProcess;
  /** Everything printed so far, stdout and stderr interleaved. */
  output(): string;
  /** The printed URL of a line starting with `label` (registry, tracker, worker). */
  url(label: string): string;
  /** Ctrl-C: SIGINT to the process group; resolves with the exit code once pnpm is gone. */
  interrupt(timeoutMs?: number): Promise<number | null>;
  /** SIGKILL to the group, for cleanup after a failure. */
  kill(): void;
}

/** The environment of a fresh shell: no test database, no Berth settings of the test run. */
export function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith("BERTH_") || k === "DATABASE_URL") continue;
    if (k.startsWith("VITEST") || k === "NODE_OPTIONS" || k.startsWith("npm_")) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

/**
 * The pid of the embedded Postgres of a cluster folder while it runs. It has a process group
 * of its own (Ctrl-C must not stop it under the services), so a kill of the launcher's group
 * does not reach it: cleanup after a failure uses this.
 */
export function postmasterPid(clusterDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(join(clusterDir, "postmaster.pid"), "utf8"), 10);
    return Number.isFinite(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function launch(
  cwd: string,
  env: Record<string, string>,
  /** The cluster folder (`<data dir>/pg`), to stop its Postgres in `kill()`. */
  clusterDir?: string,
): Launched {
  const child = spawn("pnpm", ["start"], {
    cwd,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => {
    out += d;
  });
  child.stderr!.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  return {
    child,
    output: () => out,
    url(label) {
      const m = new RegExp(`^${label}\\s.*?(http://[\\d.]+:\\d+)`, "m").exec(out);
      if (!m) throw new Error(`no ${label} line in:\n${out}`);
      return m[1]!;
    },
    async interrupt(timeoutMs = 120_000) {
      if (child.exitCode !== null) return child.exitCode;
      process.kill(-child.pid!, "SIGINT");
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`pnpm start did not stop within ${timeoutMs} ms:\n${out}`)),
          timeoutMs,
        );
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    kill() {
      const postgres = clusterDir ? postmasterPid(clusterDir) : undefined;
      for (const [pid, signal] of [
        [-child.pid!, "SIGKILL"],
        [postgres, "SIGINT"],
      ] as const) {
        try {
          if (pid) process.kill(pid, signal);
        } catch {
          // already gone
        }
      }
    },
  };
}

/** Wait (bounded) until the launcher has printed its summary, or fail with what it printed. */
export async function waitForSummary(l: Launched, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (/^api key\s/m.test(l.output())) return;
    if (l.child.exitCode !== null || l.child.signalCode !== null) {
      throw new Error(
        `pnpm start exited (${l.child.exitCode ?? l.child.signalCode}):\n${l.output()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`pnpm start printed no summary within ${timeoutMs} ms:\n${l.output()}`);
}

/** The processes still in a process group (by /proc), to prove a stop left nothing behind. */
export function groupMembers(pgid: number): string[] {
  const members: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // Fields after the command (which is in parentheses and may hold spaces).
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") {
        members.push(readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " "));
      }
    } catch {
      // gone meanwhile
    }
  }
  return members;
}

/** Bounded wait until nothing of the group is left. */
export async function waitGroupGone(pgid: number, timeoutMs = 60_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let left = groupMembers(pgid);
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    left = groupMembers(pgid);
  }
  return left;
}
