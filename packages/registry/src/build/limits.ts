/*
 * What one server process lets builds take. Staged contexts are counted per account (every
 * region's together); builds run a few at a time per process and per account, the rest wait
 * in line and say so in their progress. The server sets them from its configuration
 * (BERTH_BUILD_*); until then the defaults hold.
 */

export interface BuildLimits {
  /** Staged contexts an account may hold at once (each expires `contextTtlMs` after upload). */
  contextsPerAccount: number;
  /** Bytes of staged contexts an account may hold at once. */
  contextBytesPerAccount: number;
  /** Largest single context upload (the tar as sent). */
  contextMaxBytes: number;
  /** How long a staged context can be built from. */
  contextTtlMs: number;
  /** Builds running at once in this process; the others wait in line. */
  concurrentBuilds: number;
  /** Builds of one account running at once in this process. */
  concurrentBuildsPerAccount: number;
  /** File content one build may unpack, all archives together (context, ADD, base layers). */
  unpackBytes: number;
  /** Archive entries one build may unpack, all archives together. */
  unpackEntries: number;
}

export const BUILD_LIMIT_DEFAULTS: Readonly<BuildLimits> = {
  contextsPerAccount: 100,
  contextBytesPerAccount: 1024 * 1024 * 1024,
  contextMaxBytes: 50 * 1024 * 1024,
  contextTtlMs: 60 * 60 * 1000,
  concurrentBuilds: 2,
  concurrentBuildsPerAccount: 1,
  unpackBytes: 200 * 1024 * 1024,
  unpackEntries: 250_000,
};

let current: BuildLimits = { ...BUILD_LIMIT_DEFAULTS };

/** Change some limits (the rest keep their values); returns the limits now in force. */
export function setBuildLimits(limits: Partial<BuildLimits>): BuildLimits {
  const next = { ...current };
  for (const [key, value] of Object.entries(limits) as [keyof BuildLimits, number][]) {
    if (value === undefined) continue;
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`build limit ${key} must be a whole number of at least 1, not ${value}`);
    }
    next[key] = value;
  }
  current = next;
  return buildLimits();
}

export function buildLimits(): Readonly<BuildLimits> {
  return current;
}
