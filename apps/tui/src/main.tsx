import { render } from "ink";
import { EXIT_USAGE } from "./cli/errors";
import { parseCli, runCli } from "./cli/run";
import { ConfigFileError, readConfig, resolveTarget, writeConfig } from "./config";
import { App } from "./ui/app";

// `berth`: with a command, command mode (exit code = outcome); without one, the Ink app.

const ALT_SCREEN_ON = "\u001B[?1049h";
const ALT_SCREEN_OFF = "\u001B[?1049l";

function exitWith(code: number): void {
  // Let stdout drain before exiting (a pipe may still hold the output).
  process.stdout.write("", () => process.exit(code));
}

async function main(argv: string[]): Promise<void> {
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const code = await runCli(argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    signal: stop.signal,
  });
  if (code !== undefined) return exitWith(code);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);

  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write(
      "berth: the interactive app needs a terminal; give a command instead (berth --help)\n",
    );
    return exitWith(EXIT_USAGE);
  }
  let target: ReturnType<typeof resolveTarget>;
  try {
    target = resolveTarget(parseCli(argv).flags, process.env);
  } catch (error) {
    process.stderr.write(`berth: ${(error as Error).message}\n`);
    return exitWith(EXIT_USAGE);
  }
  const save = (change: { region: string; url: string; apiKey?: string }) => {
    try {
      const config = readConfig(target.configPath);
      config.regions[change.region] = change.url;
      config.region = change.region;
      if (change.apiKey) config.apiKey = change.apiKey;
      writeConfig(target.configPath, config);
    } catch (error) {
      if (!(error instanceof ConfigFileError)) throw error;
    }
  };
  process.stdout.write(ALT_SCREEN_ON);
  const app = render(
    <App
      connection={{
        ...(target.url ? { url: target.url } : {}),
        ...(target.apiKey ? { apiKey: target.apiKey } : {}),
      }}
      regions={target.config.regions}
      interactive
      save={save}
    />,
    { exitOnCtrlC: true },
  );
  try {
    await app.waitUntilExit();
  } finally {
    process.stdout.write(ALT_SCREEN_OFF);
  }
  exitWith(0);
}

main(process.argv.slice(2)).catch((error: unknown) => {
  process.stdout.write(ALT_SCREEN_OFF);
  process.stderr.write(`berth: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
