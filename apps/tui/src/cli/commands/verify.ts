import { readFileSync, writeFileSync } from "node:fs";
import { parseCheckpointText } from "@berth/tlog";
import type { BerthClient } from "../../api";
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
import { readTrust, writeTrust } from "../verify/trust";

const PAGE = 5000;

/** The caller's whole log as a bundle: the newest checkpoint, every entry, one range proof. */
async function fetchBundle(client: BerthClient): Promise<Bundle & { region: string }> {
  const cp = await client.log.checkpoint.query();
  const origin = cp.checkpoint.split("\n")[0] ?? "";
  const entries: Bundle["entries"] = [];
  for (let start = 0; start < cp.size; start += PAGE) {
    const page = await client.log.entries.query({ start, end: Math.min(cp.size, start + PAGE) });
    entries.push(...page.entries.map((e) => ({ ...e, event: e.event })));
  }
  const proof =
    cp.size > 0
      ? (await client.log.range.query({ start: 0, end: cp.size, size: cp.size })).proof
      : [];
  return {
    region: cp.region,
    format: BUNDLE_FORMAT,
    origin,
    checkpoint: cp.checkpoint,
    start: 0,
    end: cp.size,
    entries,
    proof,
  };
}

function report(v: Verdict): CommandResult {
  const text = v.ok
    ? `verified ${v.verified} events, checkpoint size ${v.size}, origin ${v.origin}`
    : `VERIFICATION FAILED for ${v.origin}:\n${v.problems.map((p) => `  ${p}`).join("\n")}`;
  return { data: v, text, exitCode: v.ok ? 0 : 1 };
}

function readBundle(file: string): Bundle {
  const parsed = bundleSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success) throw new UsageError(`${file} is not a ${BUNDLE_FORMAT} bundle`);
  return parsed.data;
}

async function verifyOnline(ctx: CommandContext): Promise<CommandResult> {
  const client = ctx.client();
  const bundle = await fetchBundle(client);
  const trust = readTrust(ctx.io.env);
  const { key: served } = await client.log.key.query({ region: bundle.region });
  const given = str(ctx, "key");
  const pinned = trust.keys[bundle.region];
  const keyProblem = (msg: string): CommandResult => ({
    data: { ok: false, origin: bundle.origin, problems: [msg] },
    text: `VERIFICATION FAILED for ${bundle.origin}:\n  ${msg}`,
    exitCode: 1,
  });
  if (pinned && given && pinned !== given)
    return keyProblem(`--key differs from the key pinned for ${bundle.region}: ${pinned}`);
  const key = given ?? pinned ?? served;
  if (served !== key)
    return keyProblem(
      `THE TRACKER'S KEY CHANGED: it now serves ${served}, but ${given ? "--key" : "the pinned key"} is ${key}`,
    );
  if (!given && !pinned) {
    ctx.io.stderr.write(
      `trusting the tracker key of ${bundle.region} on first use: ${key}\n` +
        "  (pinned in the CLI's config; compare it with the key your operator published)\n",
    );
  }
  const rememberedNote = trust.checkpoints[bundle.origin];
  const remembered = rememberedNote
    ? parseCheckpointText(rememberedNote.slice(0, rememberedNote.indexOf("\n\n") + 1))
    : null;
  let previous: Parameters<typeof verifyBundle>[2];
  if (remembered) {
    const size = parseCheckpointText(
      bundle.checkpoint.slice(0, bundle.checkpoint.indexOf("\n\n") + 1),
    )?.size;
    const consistency =
      size !== undefined && remembered.size > 0 && remembered.size <= size
        ? (await client.log.consistency.query({ from: remembered.size, to: size })).proof
        : [];
    previous = { checkpoint: remembered, consistency };
  }
  const verdict = verifyBundle(bundle, key, previous);
  if (verdict.ok) {
    trust.keys[bundle.region] = key;
    trust.checkpoints[bundle.origin] = bundle.checkpoint;
    writeTrust(ctx.io.env, trust);
  }
  return report(verdict);
}

export const verifyCommands: Command[] = [
  {
    name: "events-verify",
    args: "",
    summary:
      "verify your event log against the tracker's signed checkpoint (e.g. berth events-verify; berth events-verify --bundle log.json --key berth.tracker+…)",
    example: "berth events-verify --bundle log.json --key berth.tracker+1a2b3c4d+AQ==",
    max: 0,
    options: {
      key: {
        type: "string",
        help: "the tracker's verifier key (else the one pinned on first use)",
      },
      bundle: { type: "string", help: "verify this bundle file offline (needs --key)" },
    },
    async run(ctx) {
      const file = str(ctx, "bundle");
      if (file) {
        const key = str(ctx, "key");
        if (!key) throw new UsageError("--bundle needs --key: offline, the key cannot be fetched");
        return report(verifyBundle(readBundle(file), key));
      }
      return verifyOnline(ctx);
    },
  },
  {
    name: "events-export",
    args: "",
    summary:
      "write your whole event log as a bundle for offline verification (e.g. berth events-export --bundle log.json)",
    example: "berth events-export --bundle log.json",
    max: 0,
    options: { bundle: { type: "string", help: "the file to write" } },
    async run(ctx) {
      const file = str(ctx, "bundle");
      if (!file) throw new UsageError("give the file to write with --bundle FILE");
      const { region: _region, ...bundle } = await fetchBundle(ctx.client());
      writeFileSync(file, `${JSON.stringify(bundle)}\n`);
      const text = `wrote ${bundle.entries.length} events (checkpoint size ${bundle.end}, origin ${bundle.origin}) to ${file}`;
      return { data: { file, origin: bundle.origin, size: bundle.end }, text };
    },
  },
];
