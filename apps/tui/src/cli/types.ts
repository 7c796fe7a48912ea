import type { BerthClient } from "../api";
import type { Target } from "../config";

export interface Io {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  env: Record<string, string | undefined>;
  /** Ends a command that runs until stopped (`events --follow`). */
  signal?: AbortSignal;
}

export type OptionValue = string | boolean | string[] | undefined;

export interface CommandContext {
  /** Positional arguments after the verb. */
  args: string[];
  opts: Record<string, OptionValue>;
  json: boolean;
  io: Io;
  target: Target;
  /** The client of the target; a UsageError when no URL or API key is configured. */
  client(): BerthClient;
}

export interface CommandResult {
  /** What `--output json` prints. */
  data: unknown;
  /** What the table output prints. */
  text: string;
  exitCode?: number;
}

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  help: string;
}

export interface Command {
  name: string;
  args: string;
  summary: string;
  /** One command line that does something useful, shown by `berth <command> --help`. */
  example: string;
  options?: Record<string, OptionSpec>;
  /** Positional arguments allowed. */
  min?: number;
  max?: number;
  run(ctx: CommandContext): Promise<CommandResult | undefined>;
}
