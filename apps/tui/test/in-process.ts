import { Readable } from "node:stream";
import { runCli } from "../src/cli/run";
import type { Io } from "../src/cli/types";

/**
 * Run a verb in this process against `url` with `apiKey`, as a script would: stdin is no
 * terminal (a verb that must ask demands --force instead) and no config file is read.
 */
export async function cliAt(url: string, apiKey: string, args: string[]) {
  let stdout = "";
  let stderr = "";
  const io: Io = {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    stdin: Readable.from([]),
    env: { BERTH_URL: url, BERTH_API_KEY: apiKey, BERTH_CONFIG: "/nonexistent/berth.json" },
  };
  const code = await runCli(args, io);
  return { code, stdout, stderr };
}
