import { execFile } from "node:child_process";
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
