import { type Checkpoint, openCheckpoint } from "./checkpoint";
import { HASH_SIZE, type Hash } from "./hash";
import { eventLeafHash } from "./leaf";
import type { VerifierKey } from "./note";
import { rootFromRangeProof, verifyConsistency } from "./proof";

/** One exported event with its place in the log and, when the log supplied it, the leaf hash it recorded. */
export interface LogEntry {
  index: number;
  id: string;
  event: unknown;
  /** The leaf hash the log holds for this index; authenticated by the range proof, not trusted alone. */
  leaf?: Hash;
}

export type Problem =
  | { kind: "signature"; detail: string }
  | { kind: "inconsistent"; oldSize: number; newSize: number; detail: string }
  | { kind: "changed"; index: number; id: string }
  | { kind: "missing"; index: number }
  | { kind: "inserted"; index: number; id: string }
  | { kind: "reordered"; index: number; id: string; at?: number }
  | { kind: "uncovered"; index: number; id: string }
  | { kind: "tree"; detail: string };

export function describeProblem(p: Problem): string {
  switch (p.kind) {
    case "signature":
      return `checkpoint signature: ${p.detail}`;
    case "inconsistent":
      return `checkpoints of size ${p.oldSize} and ${p.newSize} are inconsistent: ${p.detail}`;
    case "changed":
      return `event ${p.id} at index ${p.index} was changed`;
    case "missing":
      return `the event at index ${p.index} is missing`;
    case "inserted":
      return `event ${p.id} at index ${p.index} was inserted (not in the log)`;
    case "reordered":
      return p.at === undefined
        ? `event ${p.id} at index ${p.index} is out of order`
        : `event ${p.id} at index ${p.index} is out of order: the log holds it at index ${p.at}`;
    case "uncovered":
      return `event ${p.id} at index ${p.index} is beyond the checkpoint (not yet covered)`;
    case "tree":
      return `the log's tree does not match its checkpoint: ${p.detail}`;
  }
}

/**
 * Checks a run of exported entries that should be exactly the leaves [start, start + count) of the
 * checkpointed tree, with `proof` the hashes of `rangeProofRanges(start, end, size)`. Every
 * problem found is named with the index and event id it concerns.
 */
export function verifyEntries(input: {
  checkpoint: Checkpoint;
  start: number;
  end: number;
  entries: readonly LogEntry[];
  proof: readonly Hash[];
  /** Called as event leaves are recomputed (the long part of a big run). */
  onProgress?: (done: number, total: number) => void;
}): Problem[] {
  const { checkpoint, start, end, proof } = input;
  const problems: Problem[] = [];
  if (!(start >= 0 && start <= end && end <= checkpoint.size))
    return [
      {
        kind: "tree",
        detail: `the range [${start}, ${end}) is not within the checkpoint of size ${checkpoint.size}`,
      },
    ];
  const byIndex = new Map<number, LogEntry[]>();
  let previous = -1;
  for (const entry of input.entries) {
    if (entry.index >= checkpoint.size) {
      problems.push({ kind: "uncovered", index: entry.index, id: entry.id });
      continue;
    }
    if (entry.index <= previous)
      problems.push({ kind: "reordered", index: entry.index, id: entry.id });
    previous = Math.max(previous, entry.index);
    byIndex.set(entry.index, [...(byIndex.get(entry.index) ?? []), entry]);
  }
  // Where several entries claim one index, the one the log's tree holds is the real one: try
  // each in turn (rare, so the extra root computations do not matter).
  const chosen = new Map<number, LogEntry>();
  for (let index = start; index < end; index++) {
    const at = byIndex.get(index) ?? [];
    if (at.length === 0) problems.push({ kind: "missing", index });
    // Prefer the entry whose content gives the leaf the log holds for this index.
    else
      chosen.set(
        index,
        at.find((e) => e.leaf?.equals(eventLeafHash(e.event))) ?? (at[0] as LogEntry),
      );
  }
  const leafOf = (entry: LogEntry | undefined) =>
    entry ? (entry.leaf ?? eventLeafHash(entry.event)) : Buffer.alloc(HASH_SIZE);
  const leavesNow = () =>
    Array.from({ length: end - start }, (_, i) => leafOf(chosen.get(start + i)));
  const rootNow = () =>
    start < end ? rootFromRangeProof(start, leavesNow(), checkpoint.size, proof) : null;
  let root = rootNow();
  for (const [index, at] of byIndex) {
    if (at.length < 2 || root?.equals(checkpoint.root)) continue;
    for (const candidate of at.slice(1)) {
      const before = chosen.get(index) as LogEntry;
      chosen.set(index, candidate);
      const tried = rootNow();
      if (tried?.equals(checkpoint.root)) {
        root = tried;
        break;
      }
      chosen.set(index, before);
    }
  }
  for (const [index, at] of byIndex) {
    for (const entry of at)
      if (entry !== chosen.get(index)) problems.push({ kind: "inserted", index, id: entry.id });
  }
  const leaves = leavesNow();
  const recomputed = Array.from({ length: end - start }, (_, i) => {
    if (i % PROGRESS_EVERY === 0) input.onProgress?.(i, end - start);
    const entry = chosen.get(start + i);
    return entry ? eventLeafHash(entry.event) : undefined;
  });
  input.onProgress?.(end - start, end - start);
  if (start >= end) return problems;
  const treeMatches = root?.equals(checkpoint.root) ?? false;
  // Leaf hash → index, built only when some event does not match its leaf.
  let byLeaf: Map<string, number> | undefined;
  const indexOfLeaf = (h: Hash) => {
    byLeaf ??= new Map(leaves.map((l, i) => [l.toString("base64"), start + i]));
    return byLeaf.get(h.toString("base64"));
  };
  for (let i = 0; i < leaves.length; i++) {
    const entry = chosen.get(start + i);
    const mine = recomputed[i];
    if (!entry || !mine) continue;
    // With authenticated leaf hashes each event is checked on its own; without them only the whole run can be.
    if (
      treeMatches
        ? !mine.equals(leaves[i] as Hash)
        : entry.leaf !== undefined && !mine.equals(entry.leaf)
    ) {
      // An unaltered event moved to another index is named as such, with the index the
      // (authenticated) tree holds it at.
      const at = treeMatches ? indexOfLeaf(mine) : undefined;
      problems.push(
        at === undefined
          ? { kind: "changed", index: entry.index, id: entry.id }
          : { kind: "reordered", index: entry.index, id: entry.id, at },
      );
    }
  }
  if (!treeMatches && !problems.some((p) => p.kind !== "uncovered")) {
    problems.push({
      kind: "tree",
      detail: root
        ? `leaves [${start}, ${end}) do not give the root of size ${checkpoint.size}`
        : "the range proof has the wrong number of hashes",
    });
  }
  return problems;
}

const PROGRESS_EVERY = 100_000;

/** Opens a checkpoint and, when an older one is remembered, checks the new one extends it. */
export function checkAgainstPrevious(
  note: string,
  key: VerifierKey,
  origin: string,
  previous: Checkpoint | null,
  consistency: readonly Hash[],
): { checkpoint: Checkpoint | null; problems: Problem[] } {
  const opened = openCheckpoint(note, key, origin);
  if (!opened.ok)
    return { checkpoint: null, problems: [{ kind: "signature", detail: opened.reason }] };
  const checkpoint = opened.checkpoint;
  if (!previous) return { checkpoint, problems: [] };
  const inconsistent = (detail: string) => ({
    checkpoint,
    problems: [
      { kind: "inconsistent" as const, oldSize: previous.size, newSize: checkpoint.size, detail },
    ],
  });
  if (previous.size > checkpoint.size) return inconsistent("the log shrank");
  if (
    !verifyConsistency(previous.size, checkpoint.size, consistency, previous.root, checkpoint.root)
  ) {
    return inconsistent("the consistency proof does not verify (history rewritten or forked)");
  }
  return { checkpoint, problems: [] };
}
