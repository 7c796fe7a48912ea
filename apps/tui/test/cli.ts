import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const BERTH = fileURLToPath(new URL("../dist/berth.js", import.meta.url));

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON. */
  json<T = unknown>(): T;
}

/** Run the built binary the way a script would: its own process, exit code, stdout, stderr. */
export function berth(
  args: string[],
  env: Record<string, string | undefined>,
  opts: { input?: string; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [BERTH, ...args],
      {
        env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv,
        timeout: opts.timeoutMs ?? 30_000,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        if (error && code === -1)
          return reject(new Error(`berth ${args.join(" ")}: ${error.message}\n${stderr}`));
        resolve({
          code,
          stdout,
          stderr,
          json<T>() {
            return JSON.parse(stdout) as T;
          },
        });
      },
    );
    child.stdin!.end(opts.input ?? "");
  });
}

/** The built binary left running (`events --follow`): what it printed so far, and its exit. */
export interface Running {
  child: ChildProcess;
  out: string;
  err: string;
  exited: Promise<number | null>;
}

export function spawnBerth(args: string[], env: Record<string, string | undefined>): Running {
  const child = spawn(process.execPath, [BERTH, ...args], {
    env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const running: Running = {
    child,
    out: "",
    err: "",
    exited: new Promise((r) => child.once("exit", (code) => r(code))),
  };
  child.stdout!.on("data", (c: Buffer) => {
    running.out += c.toString();
  });
  child.stderr!.on("data", (c: Buffer) => {
    running.err += c.toString();
  });
  return running;
}

/** A HOME of its own, logged in to `url` with `apiKey`: the environment to run berth in. */
export async function loggedInHome(
  url: string,
  apiKey: string,
): Promise<{ HOME: string; BERTH_CONFIG: string }> {
  const home = mkdtempSync(join(tmpdir(), "berth-home-"));
  const env = { HOME: home, BERTH_CONFIG: join(home, "config.json") };
  const login = await berth(["login", "--url", url, "--api-key", apiKey], env);
  if (login.code !== 0) throw new Error(`berth login answered ${login.code}: ${login.stderr}`);
  return env;
}
