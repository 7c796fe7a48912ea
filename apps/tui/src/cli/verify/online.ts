import { parseCheckpointText } from "@berth/tlog";
import type { BerthClient, EventLine } from "../../api";
import type { Env } from "../../config";
import { BUNDLE_FORMAT, type Bundle, type Verdict, verifyBundle } from "./bundle";
import { readTrust, type Trust, writeTrust } from "./trust";

/** Entries a page (the tracker's limit). */
const PAGE = 5000;
/** Events a page when walking what the tracker shows (events.query's limit). */
const LINES_PAGE = 1000;

/** The caller's log as the server shows it, and the key it is to be checked with. */
export interface OpenedLog {
  region: string;
  /** `berth.tracker/<region>/<the caller's account id>`: from whoami, not from the checkpoint. */
  origin: string;
  checkpoint: string;
  size: number;
  key: string;
  /** Why the key cannot be used (a changed key): verification stops there. */
  keyProblem?: string;
  /** The key is being trusted on first use (nothing pinned, no --key). */
  firstUse: boolean;
  /** The last checkpoint verified for this origin, with the proof that the new one extends it. */
  previous?: Parameters<typeof verifyBundle>[2];
  trust: Trust;
}

const signedText = (note: string) => note.slice(0, note.indexOf("\n\n") + 1);

/**
 * Fetches the newest checkpoint of the caller's log and decides the key: `--key`, else the one
 * pinned on first use, else the served one (trusted on first use). A served key that differs
 * from the pinned or given one is a problem, never silently accepted.
 */
export async function openLog(
  client: BerthClient,
  env: Env,
  given?: string,
  region?: string,
): Promise<OpenedLog> {
  const [cp, me] = await Promise.all([
    client.log.checkpoint.query(region ? { region } : {}),
    client.whoami.query(),
  ]);
  const origin = `berth.tracker/${cp.region}/${me.account.id}`;
  const trust = readTrust(env);
  const { key: served } = await client.log.key.query({ region: cp.region });
  const pinned = trust.keys[cp.region];
  const key = given ?? pinned ?? served;
  const base = { region: cp.region, origin, checkpoint: cp.checkpoint, size: cp.size, trust };
  if (pinned && given && pinned !== given)
    return {
      ...base,
      key,
      firstUse: false,
      keyProblem: `--key differs from the key pinned for ${cp.region}: ${pinned}`,
    };
  if (served !== key)
    return {
      ...base,
      key,
      firstUse: false,
      keyProblem: `THE TRACKER'S KEY CHANGED: it now serves ${served}, but ${given ? "--key" : "the pinned key"} is ${key}`,
    };
  const rememberedNote = trust.checkpoints[origin];
  const remembered = rememberedNote ? parseCheckpointText(signedText(rememberedNote)) : null;
  let previous: OpenedLog["previous"];
  if (remembered) {
    const size = parseCheckpointText(signedText(cp.checkpoint))?.size;
    const consistency =
      size !== undefined && remembered.size > 0 && remembered.size <= size
        ? (
            await client.log.consistency.query({
              region: cp.region,
              from: remembered.size,
              to: size,
            })
          ).proof
        : [];
    previous = { checkpoint: remembered, consistency };
  }
  return { ...base, key, firstUse: !given && !pinned, ...(previous ? { previous } : {}) };
}

/** The entries [start, end) of the opened log as a bundle, with their range proof. */
export async function fetchRun(
  client: BerthClient,
  log: Pick<OpenedLog, "region" | "origin" | "checkpoint" | "size">,
  start: number,
  end: number,
): Promise<Bundle> {
  const entries: Bundle["entries"] = [];
  for (let at = start; at < end; at += PAGE) {
    const page = await client.log.entries.query({
      region: log.region,
      start: at,
      end: Math.min(end, at + PAGE),
    });
    entries.push(...page.entries.map((e) => ({ ...e, event: e.event })));
  }
  const proof =
    start < end
      ? (await client.log.range.query({ region: log.region, start, end, size: log.size })).proof
      : [];
  const { origin, checkpoint } = log;
  return { format: BUNDLE_FORMAT, origin, checkpoint, start, end, entries, proof };
}

/** Verifies a run fetched with `fetchRun` against the opened log's key and remembered checkpoint. */
export function verifyRun(
  log: OpenedLog,
  bundle: Bundle,
  onProgress?: (done: number, total: number) => void,
): Verdict {
  if (log.keyProblem)
    return {
      ok: false,
      origin: log.origin,
      size: 0,
      start: bundle.start,
      end: bundle.end,
      verified: 0,
      problems: [log.keyProblem],
      checkpoint: null,
    };
  return verifyBundle(bundle, log.key, log.previous, onProgress);
}

/** After a verification passed: pin the key and remember the checkpoint for the next one. */
export function remember(env: Env, log: OpenedLog): void {
  log.trust.keys[log.region] = log.key;
  log.trust.checkpoints[log.origin] = log.checkpoint;
  writeTrust(env, log.trust);
}

/** Every event the tracker shows for a time range (or all), newest first, page by page. */
export async function shownEvents(
  client: BerthClient,
  region: string,
  range: { from?: string; to?: string },
): Promise<EventLine[]> {
  const lines: EventLine[] = [];
  let paginationId: string | undefined;
  do {
    const page = await client.events.query.query({
      region,
      size: LINES_PAGE,
      ...range,
      ...(paginationId ? { paginationId } : {}),
    });
    lines.push(...page.lines);
    paginationId = page.paginationId ?? undefined;
  } while (paginationId);
  return lines;
}

/** The index run [start, end) that holds every shown event the checkpoint covers. */
export function runOf(lines: readonly EventLine[], size: number): { start: number; end: number } {
  let start = Number.POSITIVE_INFINITY;
  let end = 0;
  for (const l of lines) {
    const i = l._logIndex;
    if (typeof i !== "number" || i >= size) continue;
    start = Math.min(start, i);
    end = Math.max(end, i + 1);
  }
  return start < end ? { start, end } : { start: 0, end: 0 };
}

/**
 * Checks what the tracker shows against the run of entries verified: each shown event must be
 * the entry at the index it claims. A shown event with no index is not in the log at all (a row
 * forged beside it); one past the checkpoint is only not covered yet.
 */
export function checkShown(
  lines: readonly EventLine[],
  run: Bundle,
  size: number,
): { problems: string[]; uncovered: number } {
  const byIndex = new Map<number, string[]>();
  for (const e of run.entries) byIndex.set(e.index, [...(byIndex.get(e.index) ?? []), e.id]);
  const problems: string[] = [];
  let uncovered = 0;
  for (const l of lines) {
    const i = l._logIndex;
    if (typeof i !== "number")
      problems.push(`event ${l._id} is shown by the tracker but is not in the log (no index)`);
    else if (i >= size) uncovered++;
    else if (!byIndex.get(i)?.includes(l._id))
      problems.push(
        `event ${l._id} is shown at index ${i}, where the log holds ${byIndex.get(i)?.join(", ") ?? "no event"}`,
      );
  }
  return { problems, uncovered };
}
