import { ConfigError } from "@berth/service";

/**
 * Configuration shared by the worker (which sends) and the tracker (which receives), so that
 * both read the same variables the same way and the local defaults match.
 */

/** Ingestion key of the local tracker when BERTH_TRACKER_KEYS is not set (loopback only). */
export const DEFAULT_INGESTION_KEY = "berth-local-ingestion-key";
/** Query key of the local tracker when BERTH_TRACKER_QUERY_KEY is not set (loopback only). */
export const DEFAULT_QUERY_KEY = "berth-local-query-key";
export const DEFAULT_TRACKER_PORT = 7400;

const REGION_TOKEN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;

export function isRegionToken(value: string): boolean {
  return REGION_TOKEN.test(value);
}

/**
 * A value given either once for every region, or per region as `us-south=a,ap-south=b`
 * (`*=c` sets the value for regions the table does not name).
 */
export interface RegionTable {
  /** Value for regions without their own entry; undefined when the table lists regions only. */
  readonly fallback?: string;
  readonly entries: Readonly<Record<string, string>>;
}

// One error class for every bad setting, whichever module reads it.
export { ConfigError };

/**
 * Parse a region table. `single` says how a value without `=` is taken: the value for every
 * region. A value that itself contains `=` (a URL with a query string) must use the table form.
 */
export function parseRegionTable(
  variable: string,
  spec: string,
  validate: (value: string) => string | undefined = () => undefined,
): RegionTable {
  const text = spec.trim();
  if (text === "") throw new ConfigError(`${variable} is empty`);
  const looksLikeTable = /^(?:\*|[a-z][a-z0-9-]*)=/.test(text);
  if (!looksLikeTable) {
    const problem = validate(text);
    if (problem) throw new ConfigError(`${variable}: ${problem}`);
    return { fallback: text, entries: {} };
  }
  const entries: Record<string, string> = {};
  let fallback: string | undefined;
  for (const raw of text.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new ConfigError(`${variable}: entry "${entry}" must look like region=value`);
    const region = entry.slice(0, eq).trim();
    const value = entry.slice(eq + 1).trim();
    if (region !== "*" && !isRegionToken(region)) {
      throw new ConfigError(`${variable}: "${region}" is not a region name (e.g. us-south)`);
    }
    if (value === "") throw new ConfigError(`${variable}: region ${region} has an empty value`);
    const problem = validate(value);
    if (problem) throw new ConfigError(`${variable}: ${region}: ${problem}`);
    if (region === "*") {
      if (fallback !== undefined) throw new ConfigError(`${variable}: "*" is given twice`);
      fallback = value;
    } else {
      if (Object.hasOwn(entries, region)) {
        throw new ConfigError(`${variable}: region ${region} is given twice`);
      }
      entries[region] = value;
    }
  }
  if (fallback === undefined && Object.keys(entries).length === 0) {
    throw new ConfigError(`${variable} has no entries`);
  }
  return { fallback, entries };
}

export function lookupRegion(table: RegionTable, region: string): string | undefined {
  return Object.hasOwn(table.entries, region) ? table.entries[region] : table.fallback;
}

/** Where a tracker base URL serves a region's ingestion and export APIs. */
export function regionEndpoint(baseUrl: string, region: string): string {
  return `${baseUrl.replace(/\/+$/, "")}/regions/${region}`;
}

export function checkHttpUrl(value: string): string | undefined {
  try {
    const u = new URL(value);
    if (u.protocol !== "http:" && u.protocol !== "https:") return `"${value}" is not http(s)`;
    return undefined;
  } catch {
    return `"${value}" is not a URL`;
  }
}

/**
 * Whether a key setting (unset, one key, or a region table) leaves a region with a built-in
 * key, which anyone can read in Berth's source. A table that does not parse is left to the
 * parser to report.
 */
export function usesBuiltInKey(
  spec: string | undefined,
  builtIn: string = DEFAULT_INGESTION_KEY,
): boolean {
  if (spec === undefined || spec.trim() === "") return true;
  try {
    const t = parseRegionTable("key", spec);
    return t.fallback === builtIn || Object.values(t.entries).includes(builtIn);
  } catch {
    return false;
  }
}
