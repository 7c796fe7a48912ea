import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { z } from "zod";

/**
 * The CLI's own configuration: which Berth endpoint serves each region, the region in use,
 * and the API key `berth login` stored. The file holds a secret, so it is written 0600 in a
 * 0700 folder, and the key is only ever shown masked.
 */

const fileSchema = z.object({
  /** The region commands target when neither --region nor --url says otherwise. */
  region: z.string().optional(),
  /** Region → base URL of the Berth endpoint serving it (the server serves one region a port). */
  regions: z.record(z.string(), z.string()).default({}),
  apiKey: z.string().optional(),
});
export type ConfigFile = z.output<typeof fileSchema>;

export class ConfigFileError extends Error {
  override readonly name = "ConfigFileError";
}

export type Env = Record<string, string | undefined>;

/** `$BERTH_CONFIG`, else `$XDG_CONFIG_HOME/berth/config.json`, else `~/.config/berth/config.json`. */
export function configPath(env: Env = process.env): string {
  if (env.BERTH_CONFIG?.trim()) return env.BERTH_CONFIG.trim();
  const base = env.XDG_CONFIG_HOME?.trim() || join(env.HOME?.trim() || homedir(), ".config");
  return join(base, "berth", "config.json");
}

export function readConfig(path: string): ConfigFile {
  if (!existsSync(path)) return { regions: {} };
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new ConfigFileError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigFileError(
      `${path} is not a berth configuration: ${parsed.error.issues[0]?.message}`,
    );
  }
  return parsed.data;
}

/**
 * Write atomically, readable by the owner only (the file holds the API key). The temporary
 * file has a random name and is created exclusively ('wx': O_CREAT|O_EXCL, which never
 * follows a symlink), mode 0600 from the start; the rename replaces the file, or a symlink
 * planted in its place, without writing through it.
 */
export function writeConfig(path: string, config: ConfigFile): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${randomBytes(12).toString("hex")}.tmp`;
  try {
    writeFileSync(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600, flag: "wx" });
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true });
    throw error;
  }
}

/** A key as it may be shown: its first and last few characters, never the whole. */
export function maskKey(key: string | undefined): string {
  if (!key) return "(none)";
  if (key.length <= 12) return "****";
  return `${key.slice(0, 4)}…${key.slice(-4)}`;
}

export interface GlobalFlags {
  url?: string;
  apiKey?: string;
  region?: string;
}

/** Where a command or the app connects, and why (for messages). */
export interface Target {
  url?: string;
  apiKey?: string;
  /** The region asked for (flag, env or file); the server says which one it really serves. */
  region?: string;
  configPath: string;
  config: ConfigFile;
}

/**
 * Flags win over the environment (BERTH_URL, BERTH_API_KEY, BERTH_REGION), which wins over
 * the config file. A region without a URL takes the URL the file maps it to.
 */
export function resolveTarget(flags: GlobalFlags, env: Env = process.env): Target {
  const path = configPath(env);
  const config = readConfig(path);
  const pick = (...values: (string | undefined)[]) =>
    values.map((v) => v?.trim()).find((v) => v !== undefined && v !== "");
  const region = pick(flags.region, env.BERTH_REGION, config.region);
  const regionUrl = region ? config.regions[region] : undefined;
  // An explicit region picks its own URL over a BERTH_URL that may serve another one.
  const url = pick(flags.url, flags.region ? regionUrl : undefined, env.BERTH_URL, regionUrl);
  const apiKey = pick(flags.apiKey, env.BERTH_API_KEY, config.apiKey);
  return {
    ...(url ? { url } : {}),
    ...(apiKey ? { apiKey } : {}),
    ...(region ? { region } : {}),
    configPath: path,
    config,
  };
}

export function checkUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ConfigFileError(`"${value}" is not a URL (e.g. http://127.0.0.1:5000)`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ConfigFileError(`"${value}" is not an http(s) URL`);
  }
  return value.replace(/\/+$/, "");
}
