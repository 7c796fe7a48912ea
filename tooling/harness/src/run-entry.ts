import { spawn } from "node:child_process";

export interface RunEntryOptions {
  /** The package folder the entry's path is relative to (tsx resolves from it). */
  cwd: string;
  /** Added to this process's environment. */
  env?: Record<string, string>;
  args?: string[];
  /** Lead a process group of its own, so that `killGroup` takes down what it started too. */
  detached?: boolean;
}

/**
 * An app's entry run as a real process for a test: node with tsx's loader directly (no tsx
 * CLI parent in between, so signals and kill -9 reach the process itself), stdout and stderr
 * kept whole. `line(pattern)` waits up to 30 s for a match in stdout and fails with both
 * outputs when it does not come (or the process exits first).
 */
export function runEntry(entry: string, opts: RunEntryOptions) {
  const child = spawn(process.execPath, ["--import", "tsx", entry, ...(opts.args ?? [])], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: opts.detached ?? false,
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => ({ out, err }),
    /** SIGKILL to the whole process group (a `detached` one): a crash, nothing gets to clean up. */
    killGroup(): void {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    },
    async line(pattern: RegExp): Promise<RegExpMatchArray> {
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        const m = out.match(pattern);
        if (m) return m;
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no ${pattern} in output:\n${out}\n${err}`);
    },
  };
}

export type EntryProcess = ReturnType<typeof runEntry>;
