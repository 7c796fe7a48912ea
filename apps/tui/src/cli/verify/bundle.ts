import { parseCrn } from "@berth/core";
import {
  type Checkpoint,
  checkAgainstPrevious,
  decodeVerifierKey,
  describeProblem,
  type LogEntry,
  openCheckpoint,
  type Problem,
  verifyEntries,
} from "@berth/tlog";
import { z } from "zod";

/** docs/verifiable-log.md, "Bundles". */
export const BUNDLE_FORMAT = "berth.tlog-bundle/v1";

const b64 = z.string().max(100);
export const bundleSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  origin: z.string().min(1).max(500),
  checkpoint: z.string().min(1).max(10_000),
  start: z.int().min(0),
  end: z.int().min(0),
  entries: z.array(
    z.object({
      index: z.int().min(0),
      id: z.string(),
      leaf: b64.nullable(),
      event: z.unknown(),
    }),
  ),
  proof: z.array(b64),
});
export type Bundle = z.infer<typeof bundleSchema>;

export interface Verdict {
  ok: boolean;
  origin: string;
  size: number;
  /** The run of indexes the bundle covers. */
  start: number;
  end: number;
  verified: number;
  problems: string[];
  checkpoint: Checkpoint | null;
}

/** The account an origin `berth.tracker/<region>/<account>` names. */
export const originAccount = (origin: string): string | undefined =>
  /^[^/]+\/[^/]+\/(.+)$/.exec(origin)?.[1];

/**
 * Events filed under another account than the log's: named even before the tree check, as
 * an attacker splicing another tenant's (genuine, signed-for) events would be.
 */
function foreignEvents(bundle: Bundle): string[] {
  const account = originAccount(bundle.origin);
  const problems: string[] = [];
  for (const e of bundle.entries) {
    const crn = (e.event as { target?: { id?: unknown } } | null)?.target?.id;
    if (typeof crn !== "string") continue;
    let of: string | undefined;
    try {
      of = parseCrn(crn).account;
    } catch {
      continue;
    }
    if (of !== account)
      problems.push(`event ${e.id} at index ${e.index} belongs to account ${of}, not ${account}`);
  }
  return problems;
}

const toEntries = (entries: Bundle["entries"]): LogEntry[] =>
  entries.map((e) => ({
    index: e.index,
    id: e.id,
    event: e.event,
    ...(e.leaf ? { leaf: Buffer.from(e.leaf, "base64") } : {}),
  }));

/**
 * Verifies a bundle with a verifier key; with `previous` (the last checkpoint verified for this
 * origin) and a consistency proof, also that the new checkpoint extends it.
 */
export function verifyBundle(
  bundle: Bundle,
  key: string,
  previous?: { checkpoint: Checkpoint; consistency: string[] },
  onProgress?: (done: number, total: number) => void,
): Verdict {
  let verifierKey: ReturnType<typeof decodeVerifierKey>;
  try {
    verifierKey = decodeVerifierKey(key);
  } catch (error) {
    return fail(bundle, [`the key is not a verifier key: ${(error as Error).message}`]);
  }
  const opened = previous
    ? checkAgainstPrevious(
        bundle.checkpoint,
        verifierKey,
        bundle.origin,
        previous.checkpoint,
        previous.consistency.map((h) => Buffer.from(h, "base64")),
      )
    : (() => {
        const o = openCheckpoint(bundle.checkpoint, verifierKey, bundle.origin);
        return o.ok
          ? { checkpoint: o.checkpoint, problems: [] as Problem[] }
          : {
              checkpoint: null,
              problems: [{ kind: "signature", detail: o.reason } as Problem],
            };
      })();
  if (!opened.checkpoint || opened.problems.length > 0)
    return fail(bundle, opened.problems.map(describeProblem), opened.checkpoint);
  const checkpoint = opened.checkpoint;
  const problems = [
    ...foreignEvents(bundle),
    ...verifyEntries({
      checkpoint,
      start: bundle.start,
      end: bundle.end,
      entries: toEntries(bundle.entries),
      proof: bundle.proof.map((h) => Buffer.from(h, "base64")),
      ...(onProgress ? { onProgress } : {}),
    }).map(describeProblem),
  ];
  return {
    ok: problems.length === 0,
    origin: bundle.origin,
    size: checkpoint.size,
    start: bundle.start,
    end: bundle.end,
    verified: problems.length === 0 ? bundle.end - bundle.start : 0,
    problems,
    checkpoint,
  };
}

function fail(bundle: Bundle, problems: string[], checkpoint: Checkpoint | null = null): Verdict {
  const { origin, start, end } = bundle;
  return { ok: false, origin, size: 0, start, end, verified: 0, problems, checkpoint };
}
