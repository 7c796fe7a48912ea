import { parseArgs } from "node:util";

type Default = number | string | boolean | null;
type ValueOf<D> = D extends number
  ? number
  : D extends boolean
    ? boolean
    : D extends string
      ? string
      : string | undefined;

/**
 * The `--name value` options of a bench or fault script, from their defaults: a number
 * where the default is a number (`Number(...)` of what was given, NaN for what is not one:
 * the script checks its ranges), a flag where it is a boolean, a string otherwise, and
 * `null` for a string without default. Anything else on the command line is refused.
 */
export function scriptOptions<D extends Record<string, Default>>(
  defaults: D,
  args?: string[],
): { [K in keyof D]: ValueOf<D[K]> } {
  const options = Object.fromEntries(
    Object.entries(defaults).map(([name, d]) => [
      name,
      typeof d === "boolean"
        ? { type: "boolean" as const, default: d }
        : d === null
          ? { type: "string" as const }
          : { type: "string" as const, default: String(d) },
    ]),
  );
  const { values } = parseArgs({ options, ...(args ? { args } : {}) });
  return Object.fromEntries(
    Object.entries(defaults).map(([name, d]) => [
      name,
      typeof d === "number" ? Number(values[name]) : values[name],
    ]),
  ) as { [K in keyof D]: ValueOf<D[K]> };
}

/** A log of a script's progress: each line stamped with the seconds since `started`. */
export function secondsLog(started = Date.now()): (line: string) => void {
  return (line) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`);
}

/** The last lines of a fault script: FAILED and exit 1 when a promise was broken, else OK. */
export function verdict(broken: boolean): never {
  console.log(broken ? "\nFAILED" : "\nOK");
  process.exit(broken ? 1 : 0);
}
