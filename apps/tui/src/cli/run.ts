import { parseArgs } from "node:util";
import { TRPCClientError } from "@berth/client";
import { connect, errorCode, errorMessage } from "../api";
import { ConfigFileError, type GlobalFlags, resolveTarget, type Target } from "../config";
import { VERSION } from "../version";
import { COMMANDS, findCommand } from "./commands/index";
import { CommandFailed, EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from "./errors";
import type { CommandContext, Io, OptionSpec } from "./types";

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  url: { type: "string", help: "URL of the Berth endpoint (or BERTH_URL)" },
  "api-key": { type: "string", help: "API key (or BERTH_API_KEY; better: berth login)" },
  region: { type: "string", help: "use the endpoint configured for this region" },
  output: { type: "string", short: "o", help: "table (default) or json" },
  help: { type: "boolean", short: "h", help: "show help" },
  version: { type: "boolean", help: "show the version" },
};

export function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => `${c.name} ${c.args}`.length));
  const lines = COMMANDS.map((c) => `  ${`${c.name} ${c.args}`.padEnd(width)}  ${c.summary}`);
  const globals = Object.entries(GLOBAL_OPTIONS).map(
    ([name, o]) => `  ${`${o.short ? `-${o.short}, ` : "    "}--${name}`.padEnd(18)}${o.help}`,
  );
  return `berth ${VERSION}: the Berth container registry from the terminal

usage: berth                      interactive app (needs a terminal)
       berth <command> [args] [options]

commands:
${lines.join("\n")}

options of every command:
${globals.join("\n")}

examples:
  berth login --url http://127.0.0.1:5000 --api-key "$KEY"
  berth namespace-add birds
  berth image-list -o json
  berth events --follow

berth <command> --help shows a command's own options and an example.
Configuration: flags, then BERTH_URL / BERTH_API_KEY / BERTH_REGION, then the
file berth login writes ($BERTH_CONFIG, default ~/.config/berth/config.json).
Exit codes: 0 ok; 1 refused or failed by the server, or unreachable; 2 bad usage.`;
}

function commandUsage(name: string): string {
  const c = findCommand(name)!;
  const flags = Object.entries(c.options ?? {}).map(([n, o]) => [
    `${o.short ? `-${o.short}, ` : "    "}--${n}${o.type === "string" ? " VALUE" : ""}`,
    o.help,
  ]);
  const width = Math.max(26, ...flags.map(([f]) => f!.length + 2));
  const opts = flags.map(([f, help]) => `  ${f!.padEnd(width)}${help}`);
  return `usage: berth ${c.name} ${c.args}${opts.length ? " [options]" : ""}\n\n${c.summary}${
    opts.length ? `\n\noptions:\n${opts.join("\n")}` : ""
  }\n\nexample:\n  ${c.example}\n\nAnd the options of every command: berth --help.`;
}

export interface ParsedCli {
  command?: string;
  args: string[];
  opts: Record<string, string | boolean | string[] | undefined>;
  flags: GlobalFlags;
  json: boolean;
  help: boolean;
  version: boolean;
}

/** Split argv into command, its arguments and options; a UsageError for anything unknown. */
export function parseCli(argv: string[]): ParsedCli {
  const loose = parseArgs({
    args: argv,
    options: GLOBAL_OPTIONS as never,
    strict: false,
    allowPositionals: true,
  });
  const command = loose.positionals[0];
  const spec = command ? findCommand(command) : undefined;
  if (command && !spec) {
    throw new UsageError(`unknown command "${command}" (berth --help lists them)`);
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: { ...GLOBAL_OPTIONS, ...(spec?.options ?? {}) } as never,
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(
      (error as Error).message.split("\n")[0]!.replace(/^Unknown option/, "unknown option"),
    );
  }
  const v = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const output = (v.output as string | undefined) ?? "table";
  if (output !== "table" && output !== "json") {
    throw new UsageError(`--output is table or json, not "${output}"`);
  }
  const args = parsed.positionals.slice(1);
  if (spec && !v.help) {
    if (spec.min !== undefined && args.length < spec.min) {
      throw new UsageError(`${spec.name} needs ${spec.args}\n${commandUsage(spec.name)}`);
    }
    if (spec.max !== undefined && args.length > spec.max) {
      throw new UsageError(
        `${spec.name} takes ${spec.max === 0 ? "no arguments" : `at most ${spec.max}`}: ${args.slice(spec.max).join(" ")}`,
      );
    }
  }
  return {
    ...(command ? { command } : {}),
    args,
    opts: v,
    flags: {
      ...(typeof v.url === "string" ? { url: v.url } : {}),
      ...(typeof v["api-key"] === "string" ? { apiKey: v["api-key"] } : {}),
      ...(typeof v.region === "string" ? { region: v.region } : {}),
    },
    json: output === "json",
    help: v.help === true,
    version: v.version === true,
  };
}

function clientOf(target: Target) {
  return () => {
    if (!target.url) {
      throw new UsageError(
        "no Berth server configured: berth login --url http://host:port, or set BERTH_URL",
      );
    }
    if (!target.apiKey) {
      throw new UsageError("no API key configured: berth login, or set BERTH_API_KEY");
    }
    return connect(target.url, target.apiKey);
  };
}

/** Report an error on stderr, as JSON when JSON was asked for; returns the exit code. */
function fail(io: Io, json: boolean, error: unknown, url?: string): number {
  let exit = EXIT_FAILED;
  let code: string;
  let message: string;
  let details: Record<string, unknown> = {};
  if (error instanceof UsageError || error instanceof ConfigFileError) {
    exit = EXIT_USAGE;
    code = "USAGE";
    message = error.message;
  } else if (error instanceof CommandFailed) {
    code = error.code;
    message = error.message;
    details = error.details;
  } else if (error instanceof TRPCClientError) {
    code = errorCode(error) ?? "UNREACHABLE";
    message = errorMessage(error, url);
  } else {
    code = "ERROR";
    message = errorMessage(error, url);
  }
  if (json) io.stderr.write(`${JSON.stringify({ error: { code, message, ...details } })}\n`);
  else
    io.stderr.write(
      `berth: ${message}${code !== "USAGE" && code !== "ERROR" ? ` (${code})` : ""}\n`,
    );
  return exit;
}

/**
 * Command mode. Returns the exit code; output on io.stdout, errors on io.stderr. With no
 * command, returns undefined: the caller starts the interactive app.
 */
export async function runCli(argv: string[], io: Io): Promise<number | undefined> {
  let cli: ParsedCli;
  try {
    cli = parseCli(argv);
  } catch (error) {
    return fail(io, argv.includes("json"), error);
  }
  if (cli.version) {
    io.stdout.write(`${VERSION}\n`);
    return EXIT_OK;
  }
  if (cli.help) {
    io.stdout.write(`${cli.command ? commandUsage(cli.command) : usage()}\n`);
    return EXIT_OK;
  }
  if (!cli.command) return undefined;
  const spec = findCommand(cli.command)!;
  let target: Target | undefined;
  try {
    target = resolveTarget(cli.flags, io.env);
    const ctx: CommandContext = {
      args: cli.args,
      opts: cli.opts,
      json: cli.json,
      io,
      target,
      client: clientOf(target),
    };
    const result = await spec.run(ctx);
    if (result) {
      const body = cli.json ? JSON.stringify(result.data, null, 2) : result.text;
      if (body !== "") io.stdout.write(`${body}\n`);
      return result.exitCode ?? EXIT_OK;
    }
    return EXIT_OK;
  } catch (error) {
    return fail(io, cli.json, error, target?.url);
  }
}
