import type { Db } from "@berth/db";
import { type BlobStore, runDueRetention } from "@berth/registry";
import { ConfigError } from "@berth/service";
import type { Logger } from "pino";

const HOUR_MS = 3_600_000;
/** How often a process looks for due policies, at most (shorter when the interval is). */
const MAX_CHECK_MS = 5 * 60_000;
/** The first check waits this long (plus up to as much again, so processes spread out). */
const FIRST_CHECK_MS = 1000;

/**
 * BERTH_RETENTION_INTERVAL_HOURS: least time between two runs of a namespace's policy
 * (default 24: daily); 0 turns scheduled runs off in this process. Fractions are allowed
 * (tests use short intervals); under a minute is refused as a likely typo.
 */
export function retentionIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BERTH_RETENTION_INTERVAL_HOURS;
  if (raw === undefined || raw.trim() === "") return 24 * HOUR_MS;
  const hours = Number(raw);
  if (!Number.isFinite(hours) || hours < 0 || (hours > 0 && hours * HOUR_MS < 60_000)) {
    throw new ConfigError(
      `BERTH_RETENTION_INTERVAL_HOURS must be 0 (off) or a number of hours of at least one minute, not "${raw}"`,
    );
  }
  return hours * HOUR_MS;
}

/**
 * Scheduled retention runs in the server process: every few minutes, run the policies due.
 * Each due policy is claimed by one process in the database (see runDueRetention), so any
 * number of servers may do this at once. The timers do not keep the process alive; a run
 * cut by shutdown leaves each image removed with its event or untouched.
 */
export function startRetentionSchedule(opts: {
  db: Db;
  store: BlobStore;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** BERTH_TRASH_DAYS, for what the runs remove. */
  trashDays?: number;
}): { stop(): void } {
  const intervalMs = retentionIntervalMs(opts.env);
  const log = opts.logger.child({ component: "retention" });
  if (intervalMs === 0) {
    log.info("scheduled retention runs are off (BERTH_RETENTION_INTERVAL_HOURS=0)");
    return { stop() {} };
  }
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const check = async () => {
    try {
      const report = await runDueRetention(opts.db, opts.store, {
        intervalMs,
        ...(opts.trashDays !== undefined ? { trashDays: opts.trashDays } : {}),
      });
      const removed = report.runs.reduce((n, r) => n + r.removed.length, 0);
      const summary = { runs: report.runs.length, removed, failures: report.failures };
      if (report.runs.length > 0 || report.failures.length > 0) {
        log.info({ retention: summary }, "retention check");
      } else {
        log.debug({ retention: summary }, "retention check");
      }
    } catch (err) {
      log.error({ err }, "retention check failed");
    }
    if (!stopped) {
      timer = setTimeout(check, Math.min(intervalMs, MAX_CHECK_MS));
      timer.unref();
    }
  };
  timer = setTimeout(check, FIRST_CHECK_MS + Math.random() * FIRST_CHECK_MS);
  timer.unref();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
