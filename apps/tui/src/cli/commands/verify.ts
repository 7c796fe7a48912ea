import { readFileSync, writeFileSync } from "node:fs";
import { UsageError } from "../errors";
import { str } from "../input";
import type { Command, CommandContext, CommandResult } from "../types";
import {
  BUNDLE_FORMAT,
  type Bundle,
  bundleSchema,
  type Verdict,
  verifyBundle,
} from "../verify/bundle";
import {
  checkShown,
  fetchRun,
  openLog,
  remember,
  runOf,
  shownEvents,
  verifyRun,
} from "../verify/online";

interface Report extends Verdict {
  /** The time range asked for, when not the whole log. */
  range?: { from?: string; to?: string };
  /** Events shown by the tracker that the checkpoint does not cover yet (newer than it). */
  uncovered?: number;
}

function report(v: Report): CommandResult {
  const { checkpoint: _checkpoint, ...data } = v;
  const span = v.range
    ? `${v.verified} events from ${v.range.from ?? "the start"} to ${v.range.to ?? "now"} (indexes [${v.start}, ${v.end}))`
    : v.start === 0 && v.end === v.size
      ? `${v.verified} events`
      : `${v.verified} events (indexes [${v.start}, ${v.end}))`;
  const later = v.uncovered ? `; ${v.uncovered} newer events not covered yet` : "";
  const text = v.ok
    ? `verified ${span}, checkpoint size ${v.size}, origin ${v.origin}${later}`
    : `VERIFICATION FAILED for ${v.origin}:\n${v.problems.map((p) => `  ${p}`).join("\n")}`;
  return { data, text, exitCode: v.ok ? 0 : 1 };
}

function readBundle(file: string): Bundle {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as Error).message}`);
  }
  const parsed = bundleSchema.safeParse(json);
  if (!parsed.success) throw new UsageError(`${file} is not a ${BUNDLE_FORMAT} bundle`);
  return parsed.data;
}

/** Progress on stderr for long runs (a million events take a while), at most every 10 %. */
function progress(ctx: CommandContext, total: number) {
  if (total < 200_000) return undefined;
  let shown = -1;
  return (done: number) => {
    const tenth = Math.floor((done * 10) / total);
    if (tenth === shown) return;
    shown = tenth;
    ctx.io.stderr.write(
      `verifying: ${done.toLocaleString("en")} of ${total.toLocaleString("en")} events\n`,
    );
  };
}

/**
 * The caller's log against its newest signed checkpoint: the whole log, or with --from/--to the
 * run of indexes that holds the events of that time range (still proven against the checkpoint
 * with a range proof). In both, every event the tracker shows must be the entry at its index.
 */
async function verifyOnline(ctx: CommandContext): Promise<CommandResult> {
  const client = ctx.client();
  const from = str(ctx, "from");
  const to = str(ctx, "to");
  const ranged = from !== undefined || to !== undefined;
  const log = await openLog(client, ctx.io.env, str(ctx, "key"), str(ctx, "tracker-region"));
  const range = { ...(from ? { from } : {}), ...(to ? { to } : {}) };
  const shown = await shownEvents(client, log.region, range);
  const { start, end } = ranged ? runOf(shown, log.size) : { start: 0, end: log.size };
  const run = await fetchRun(client, log, start, end);
  const verdict = verifyRun(log, run, progress(ctx, end - start));
  const checked = log.keyProblem
    ? { problems: [], uncovered: 0 }
    : checkShown(shown, run, log.size);
  const ok = verdict.ok && checked.problems.length === 0;
  if (ok) {
    if (log.firstUse)
      ctx.io.stderr.write(
        `trusting the tracker key of ${log.region} on first use: ${log.key}\n` +
          "  (pinned in the CLI's config; compare it with the key your operator published)\n",
      );
    remember(ctx.io.env, log);
  }
  return report({
    ...verdict,
    ok,
    origin: log.origin,
    problems: [...verdict.problems, ...checked.problems],
    ...(ranged ? { range, verified: ok ? shown.length - checked.uncovered : 0 } : {}),
    uncovered: checked.uncovered,
  });
}

function verifyOffline(ctx: CommandContext, file: string): CommandResult {
  const key = str(ctx, "key");
  if (!key) throw new UsageError("--bundle needs --key: offline, the key cannot be fetched");
  const bundle = readBundle(file);
  const origin = str(ctx, "origin");
  if (origin !== undefined && bundle.origin !== origin)
    return report({
      ok: false,
      origin,
      size: 0,
      start: bundle.start,
      end: bundle.end,
      verified: 0,
      problems: [`the bundle is the log of ${bundle.origin}, not ${origin}`],
      checkpoint: null,
    });
  return report(verifyBundle(bundle, key, undefined, progress(ctx, bundle.end - bundle.start)));
}

export const verifyCommands: Command[] = [
  {
    name: "events-verify",
    args: "",
    summary:
      "verify your event log (or a time range of it) against the tracker's signed checkpoint (e.g. berth events-verify; berth events-verify --bundle log.json --key berth.tracker+…)",
    example: "berth events-verify --bundle log.json --key berth.tracker+1a2b3c4d+AQ==",
    max: 0,
    options: {
      key: {
        type: "string",
        help: "the tracker's verifier key (else the one pinned on first use)",
      },
      from: { type: "string", help: "verify only events from this time (ISO-8601 or Unix time)" },
      to: { type: "string", help: "verify only events up to this time" },
      "tracker-region": {
        type: "string",
        help: "tracker region (default: where this region's events go)",
      },
      bundle: { type: "string", help: "verify this bundle file offline (needs --key)" },
      origin: {
        type: "string",
        help: "with --bundle: the log it must be (berth.tracker/<region>/<account id>)",
      },
    },
    async run(ctx) {
      const file = str(ctx, "bundle");
      return file ? verifyOffline(ctx, file) : verifyOnline(ctx);
    },
  },
  {
    name: "events-export",
    args: "",
    summary:
      "write your whole event log as a bundle for offline verification (e.g. berth events-export --bundle log.json)",
    example: "berth events-export --bundle log.json",
    max: 0,
    options: {
      bundle: { type: "string", help: "the file to write" },
      "tracker-region": {
        type: "string",
        help: "tracker region (default: where this region's events go)",
      },
    },
    async run(ctx) {
      const file = str(ctx, "bundle");
      if (!file) throw new UsageError("give the file to write with --bundle FILE");
      const client = ctx.client();
      const region = str(ctx, "tracker-region");
      const [cp, me] = await Promise.all([
        client.log.checkpoint.query(region ? { region } : {}),
        client.whoami.query(),
      ]);
      const origin = `berth.tracker/${cp.region}/${me.account.id}`;
      const log = { region: cp.region, origin, checkpoint: cp.checkpoint, size: cp.size };
      const bundle = await fetchRun(client, log, 0, cp.size);
      writeFileSync(file, `${JSON.stringify(bundle)}\n`);
      const text = `wrote ${bundle.entries.length} events (checkpoint size ${bundle.end}, origin ${bundle.origin}) to ${file}`;
      return { data: { file, origin: bundle.origin, size: bundle.end }, text };
    },
  },
];
