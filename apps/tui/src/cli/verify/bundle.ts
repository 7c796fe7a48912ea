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
  verified: number;
  problems: string[];
  checkpoint: Checkpoint | null;
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
  const problems = verifyEntries({
    checkpoint,
    start: bundle.start,
    end: bundle.end,
    entries: toEntries(bundle.entries),
    proof: bundle.proof.map((h) => Buffer.from(h, "base64")),
  });
  return {
    ok: problems.length === 0,
    origin: bundle.origin,
    size: checkpoint.size,
    verified: problems.length === 0 ? bundle.end - bundle.start : 0,
    problems: problems.map(describeProblem),
    checkpoint,
  };
}

function fail(bundle: Bundle, problems: string[], checkpoint: Checkpoint | null = null): Verdict {
  return { ok: false, origin: bundle.origin, size: 0, verified: 0, problems, checkpoint };
}
