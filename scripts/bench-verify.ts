/**
 * Offline verification benchmark (issue 16): `pnpm bench:verify [--events N] [--runs R]`.
 *
 * Builds a log of N Activity Tracker events (default 1,000,000) as the tracker does (RFC 8785
 * leaves, RFC 9162 tree, a signed C2SP checkpoint), then times what `berth events-verify
 * --bundle` does with a bundle of the whole log, R times (default 3): open the checkpoint,
 * check every index, rebuild the root from the bundle's leaves, and recompute every event's
 * canonical leaf hash. Prints each run, the median and range, and the machine's load.
 */
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import {
  appendLeaves,
  decodeVerifierKey,
  encodeVerifierKey,
  eventLeafHash,
  generateSigningKey,
  type LogEntry,
  openCheckpoint,
  rootOfFrontier,
  signCheckpoint,
  verifyEntries,
} from "@berth/tlog";
import { makeEvent } from "@berth/tracker-client/testing";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "1000000" },
    runs: { type: "string", default: "3" },
  },
});
const n = Number(values.events);
const runs = Number(values.runs);

console.log(
  `bench:verify  ${n.toLocaleString()} events, ${runs} runs; ${cpus().length} cores, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);
const made = performance.now();
const entries: LogEntry[] = [];
const leaves: Buffer[] = [];
for (let i = 0; i < n; i++) {
  const event = makeEvent({
    account: "bench-account",
    action: "container-registry.image.pull",
    target: `birds/robin:${i % 100}`,
  });
  const leaf = eventLeafHash(event);
  leaves.push(leaf);
  // As in a bundle: the event as exported (a JSON round trip) and the tree's leaf.
  entries.push({ index: i, id: event.id, event: JSON.parse(JSON.stringify(event)), leaf });
}
const key = generateSigningKey("berth.tracker");
const origin = "berth.tracker/us-south/bench-account";
const checkpoint = signCheckpoint(
  { origin, size: n, root: rootOfFrontier(appendLeaves([], 0, leaves).frontier) },
  key,
);
const verifier = decodeVerifierKey(encodeVerifierKey(key));
console.log(`built the log in ${((performance.now() - made) / 1000).toFixed(1)} s`);

const seconds: number[] = [];
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const opened = openCheckpoint(checkpoint, verifier, origin);
  if (!opened.ok) throw new Error(opened.reason);
  const problems = verifyEntries({
    checkpoint: opened.checkpoint,
    start: 0,
    end: n,
    entries,
    proof: [],
  });
  const s = (performance.now() - t0) / 1000;
  if (problems.length > 0) throw new Error(`an untouched log failed: ${problems.length} problems`);
  seconds.push(s);
  console.log(`run ${r + 1}: ${s.toFixed(2)} s (${Math.round(n / s).toLocaleString()} events/s)`);
}
const sorted = [...seconds].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] as number;
console.log(
  `verify ${n.toLocaleString()} events offline: median ${median.toFixed(2)} s over ${runs} runs (range ${(sorted[0] as number).toFixed(2)}–${(sorted[sorted.length - 1] as number).toFixed(2)} s); load after ${loadavg()[0]?.toFixed(1)}`,
);
