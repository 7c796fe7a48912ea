import type { BerthClient, EventLine } from "../../api";
import type { Env } from "../../config";
import { checkShown, fetchRun, openLog, runOf, verifyRun } from "./online";

/** At most this many log entries are fetched to mark a screen's events (the newest run). */
export const MARKS_MAX_RUN = 20_000;

/** What the events screen shows beside its lines: which are proven in the signed log. */
export interface Marks {
  state: "verified" | "failed";
  /** Ids of shown events proven at their index under the checkpoint. */
  verified: Set<string>;
  /** Ids of shown events a problem names. */
  bad: Set<string>;
  /** The checkpoint size and the key that verified (or failed). */
  size: number;
  key: string;
  /** The key was not pinned (nor given): it is the one the server serves. */
  unpinned: boolean;
  problems: string[];
}

/** The short form of a verifier key for a status line: name and key id. */
export const keyLabel = (key: string) => key.split("+").slice(0, 2).join("+");

/**
 * Verifies the run of the log that holds the shown events, as `events-verify --from/--to`
 * does, with the pinned key (read only: the screen never pins or remembers anything; the CLI
 * does). Events past the checkpoint are left unmarked until a later one covers them.
 */
export async function verifyShown(
  client: BerthClient,
  env: Env,
  lines: readonly EventLine[],
  region?: string,
): Promise<Marks> {
  const log = await openLog(client, env, undefined, region);
  const run = runOf(lines, log.size);
  const start = Math.max(run.start, run.end - MARKS_MAX_RUN);
  const inRun = lines.filter(
    (l) => typeof l._logIndex === "number" && l._logIndex >= start && l._logIndex < run.end,
  );
  const bundle = await fetchRun(client, log, start, run.end);
  const verdict = verifyRun(log, bundle);
  const shown = checkShown(
    lines.filter((l) => typeof l._logIndex !== "number" || l._logIndex >= start),
    bundle,
    log.size,
  );
  const problems = [...verdict.problems, ...shown.problems];
  const ok = verdict.ok && shown.problems.length === 0;
  const bad = new Set(
    lines.filter((l) => problems.some((p) => p.includes(l._id))).map((l) => l._id),
  );
  return {
    state: ok ? "verified" : "failed",
    verified: new Set(ok ? inRun.map((l) => l._id) : []),
    bad,
    size: log.size,
    key: log.key,
    unpinned: log.firstUse,
    problems,
  };
}
