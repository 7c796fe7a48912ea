import { CommandFailed, UsageError } from "./errors";
import type { CommandContext, Io, OptionSpec } from "./types";

// Reading what a command is given: its options, and answers typed on the terminal or piped in.

export const str = (ctx: CommandContext, name: string): string | undefined => {
  const v = ctx.opts[name];
  return typeof v === "string" ? v : undefined;
};
export const flag = (ctx: CommandContext, name: string): boolean => ctx.opts[name] === true;
/** A list option: repeated and/or comma-separated. */
export const list = (ctx: CommandContext, name: string): string[] | undefined => {
  const v = ctx.opts[name];
  const values = (Array.isArray(v) ? v : typeof v === "string" ? [v] : [])
    .flatMap((s) => s.split(","))
    .map((s) => s.trim())
    .filter((s) => s !== "");
  return values.length > 0 ? values : undefined;
};

/** --namespace and --repository: what a listing is narrowed to. */
export const SCOPE_OPTIONS = {
  namespace: { type: "string", help: "only this namespace" },
  repository: { type: "string", help: "only this repository (ns/repo)" },
} as const satisfies Record<string, OptionSpec>;

/** The --namespace and --repository given (SCOPE_OPTIONS); an empty one is left out. */
export function scopeOf(ctx: CommandContext): { namespace?: string; repository?: string } {
  const namespace = str(ctx, "namespace");
  const repository = str(ctx, "repository");
  return { ...(namespace ? { namespace } : {}), ...(repository ? { repository } : {}) };
}

/** One call for each argument, in turn (the server sees them in the order given). */
export async function eachArg<T>(ctx: CommandContext, call: (arg: string) => Promise<T>) {
  const results: T[] = [];
  for (const arg of ctx.args) results.push(await call(arg));
  return results;
}

/** Ask on the terminal; where nobody can answer, demand --force instead. */
export async function confirm(ctx: CommandContext, question: string): Promise<void> {
  if (flag(ctx, "force")) return;
  if (!ctx.io.stdin.isTTY) {
    throw new UsageError(`${question.replace(/\?$/, "")}: confirm with --force`);
  }
  ctx.io.stderr.write(`${question} [y/N] `);
  const answer = (await readLine(ctx.io.stdin)).trim().toLowerCase();
  if (answer !== "y" && answer !== "yes") throw new CommandFailed("cancelled", "CANCELLED");
}

export function readLine(stdin: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve) => {
    let buffer = "";
    const onData = (chunk: Buffer | string) => {
      buffer += chunk.toString();
      const nl = buffer.indexOf("\n");
      if (nl >= 0) {
        done();
        resolve(buffer.slice(0, nl).replace(/\r$/, ""));
      }
    };
    const onEnd = () => {
      done();
      resolve(buffer);
    };
    const done = () => {
      stdin.off("data", onData);
      stdin.off("end", onEnd);
      stdin.pause();
    };
    stdin.on("data", onData);
    stdin.on("end", onEnd);
    stdin.resume();
  });
}

/** A secret typed on a terminal, not echoed. */
export function readSecret(io: Io, prompt: string): Promise<string> {
  const stdin = io.stdin;
  io.stderr.write(prompt);
  stdin.setRawMode?.(true);
  return new Promise((resolve, reject) => {
    let value = "";
    const onData = (chunk: Buffer | string) => {
      for (const ch of chunk.toString()) {
        if (ch === "\r" || ch === "\n") return finish();
        if (ch === "\u0003") {
          cleanup();
          return reject(new CommandFailed("cancelled", "CANCELLED"));
        }
        if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
        else value += ch;
      }
    };
    const cleanup = () => {
      stdin.off("data", onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write("\n");
    };
    const finish = () => {
      cleanup();
      resolve(value);
    };
    stdin.on("data", onData);
    stdin.resume();
  });
}

export async function readAll(stdin: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  for await (const chunk of stdin) text += chunk.toString();
  return text;
}
