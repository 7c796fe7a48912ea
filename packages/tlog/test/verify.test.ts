import { describe, expect, it } from "vitest";
import {
  appendLeaves,
  describeProblem,
  eventLeafHash,
  foldRange,
  type Hash,
  type LogEntry,
  nodeKey,
  rangeNodes,
  rangeProofRanges,
  resolveNode,
  rootOfFrontier,
  verifyEntries,
} from "../src/index";

const events = Array.from({ length: 37 }, (_, i) => ({
  id: `ev-${i}`,
  action: "namespace.create",
  n: i,
  nested: { b: 2, a: [1, "x"] },
}));

function logOf(evs: typeof events) {
  const stored = new Map<string, Hash>();
  const { frontier, created } = appendLeaves([], 0, evs.map(eventLeafHash));
  for (const n of created) stored.set(nodeKey(n), n.hash);
  const checkpoint = { origin: "test/a/1", size: evs.length, root: rootOfFrontier(frontier) };
  const proofFor = (start: number, end: number) =>
    rangeProofRanges(start, end, evs.length).map((r) =>
      foldRange(rangeNodes(r.start, r.end).map((n) => resolveNode(n, stored))),
    );
  return { checkpoint, proofFor };
}

/** Verifies entries claiming to be the whole log of 37 events; the problems, described. */
const checkWhole = (entries: LogEntry[]) =>
  verifyEntries({
    checkpoint: logOf(events).checkpoint,
    start: 0,
    end: 37,
    entries,
    proof: logOf(events).proofFor(0, 37),
  });

const entriesOf = (evs: typeof events, withLeaves: boolean): LogEntry[] =>
  evs.map((event, index) => ({
    index,
    id: event.id,
    event,
    ...(withLeaves ? { leaf: eventLeafHash(event) } : {}),
  }));

describe("verifying exported entries against a checkpoint", () => {
  const { checkpoint, proofFor } = logOf(events);

  it("an untouched export, whole or a slice, verifies; key order in an event does not matter (RFC 8785)", () => {
    expect(checkWhole(entriesOf(events, true))).toEqual([]);
    const slice = entriesOf(events, true).slice(5, 20);
    const reordered = slice.map((e) => ({
      ...e,
      event: Object.fromEntries(Object.entries(e.event as object).reverse()),
    }));
    expect(
      verifyEntries({ checkpoint, start: 5, end: 20, entries: reordered, proof: proofFor(5, 20) }),
    ).toEqual([]);
  });

  it("names a changed event by index and id", () => {
    const entries = entriesOf(events, true);
    entries[11] = {
      ...(entries[11] as LogEntry),
      event: { ...events[11], action: "namespace.delete" },
    };
    const problems = checkWhole(entries);
    expect(problems.map(describeProblem)).toEqual(["event ev-11 at index 11 was changed"]);
  });

  it("names a missing, an inserted and a reordered event", () => {
    const entries = entriesOf(events, true);
    const missing = entries.filter((e) => e.index !== 7);
    expect(checkWhole(missing).map(describeProblem)).toContain("the event at index 7 is missing");
    const forged = { index: 9, id: "forged", event: { id: "forged" } };
    const inserted = [...entries.slice(0, 10), forged, ...entries.slice(10)];
    expect(checkWhole(inserted).map(describeProblem)).toContain(
      "event forged at index 9 was inserted (not in the log)",
    );
    const swapped = entries.map((e) =>
      e.index === 3
        ? { ...e, event: events[4], id: "ev-4" }
        : e.index === 4
          ? { ...e, event: events[3], id: "ev-3" }
          : e,
    );
    expect(checkWhole(swapped).map(describeProblem)).toEqual([
      "event ev-4 at index 3 is out of order: the log holds it at index 4",
      "event ev-3 at index 4 is out of order: the log holds it at index 3",
    ]);
  });

  it("a range outside the checkpoint, or a proof for another tree size, does not verify", () => {
    const entries = entriesOf(events, true);
    const beyond = verifyEntries({ checkpoint, start: 30, end: 40, entries, proof: [] });
    expect(beyond.map(describeProblem)).toEqual([
      "the log's tree does not match its checkpoint: the range [30, 40) is not within the checkpoint of size 37",
    ]);
    // The proof of [0, 20) in a tree of 20 leaves, offered for the checkpoint of 37.
    const small = logOf(events.slice(0, 20));
    const wrongSize = verifyEntries({
      checkpoint,
      start: 0,
      end: 20,
      entries: entries.slice(0, 20),
      proof: small.proofFor(0, 20),
    });
    expect(wrongSize).toEqual([expect.objectContaining({ kind: "tree" })]);
  });

  it("reports progress while recomputing leaves, ending at the total", () => {
    const seen: [number, number][] = [];
    verifyEntries({
      checkpoint,
      start: 0,
      end: 37,
      entries: entriesOf(events, true),
      proof: proofFor(0, 37),
      onProgress: (done, total) => seen.push([done, total]),
    });
    expect(seen.at(0)).toEqual([0, 37]);
    expect(seen.at(-1)).toEqual([37, 37]);
  });

  it("without leaf hashes a change is still caught, as a tree that does not match", () => {
    const entries = entriesOf(events, false);
    entries[2] = { ...(entries[2] as LogEntry), event: { ...events[2], n: 99 } };
    const problems = checkWhole(entries);
    expect(problems).toEqual([expect.objectContaining({ kind: "tree" })]);
  });

  it("leaf hashes that the log rewrote together with the event do not pass", () => {
    const entries = entriesOf(events, true);
    const fake = { ...events[20], action: "image.delete" };
    entries[20] = { ...(entries[20] as LogEntry), event: fake, leaf: eventLeafHash(fake) };
    const problems = checkWhole(entries);
    expect(problems.length).toBeGreaterThan(0);
  });
});
