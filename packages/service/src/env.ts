import { createEnv } from "@t3-oss/env-core";
import { z } from "zod";

/** A setting the process cannot start with; the message names the variable. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

/** A TCP port; 0 lets the system choose one (the process prints it). */
export const port = z.coerce
  .number({ message: "must be a port number" })
  .int("must be a whole number")
  .min(0, "must be between 0 and 65535")
  .max(65535, "must be between 0 and 65535");

/** A whole number within bounds. */
export const int = (min: number, max: number) =>
  z.coerce
    .number({ message: "must be a number" })
    .int("must be a whole number")
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max}`);

/** The settings every Berth process reads, with the same names, meaning and defaults. */
export const commonEnv = {
  /** Use this Postgres instead of the embedded one. */
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, "must be a postgres:// URL")
    .optional(),
  /** Address to listen on. */
  BERTH_HOST: z.string().min(1).default("127.0.0.1"),
  BERTH_LOG_LEVEL: z.enum(LOG_LEVELS).default("info"),
};

type Shape = Record<string, z.ZodType>;
export type Env<S extends Shape> = z.output<z.ZodObject<typeof commonEnv & S>>;

/**
 * Read the common settings and a process's own from `env`. Empty or blank values count as
 * unset. Every bad value is reported at once, one `VARIABLE: why` a line, in a ConfigError.
 */
export function loadEnv<S extends Shape>(
  shape: S,
  env: Record<string, string | undefined> = process.env,
): Env<S> {
  // createEnv drops empty strings by deleting them from the object it is given: give it a copy.
  const runtimeEnv = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ""),
  );
  return createEnv({
    server: { ...commonEnv, ...shape },
    runtimeEnv,
    isServer: true,
    onValidationError: (issues) => {
      const lines = issues.map((i) => {
        const key = i.path?.[0];
        const name = typeof key === "object" ? String(key.key) : String(key ?? "environment");
        return `${name}: ${i.message}`;
      });
      throw new ConfigError(lines.join("\n"));
    },
  }) as Env<S>;
}

/**
 * Run a process's configuration step; a ConfigError ends the process with exit code 2 and
 * its message on stderr (`<service>: bad configuration: ...`), before anything has started.
 */
export function configOrExit<T>(service: string, load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`${service}: bad configuration: ${error.message}`);
    process.exit(2);
  }
}
