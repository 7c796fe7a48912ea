/**
 * Offline verification benchmark (issue 16): `pnpm bench:verify [--events N] [--runs R]`.
 *
 * Builds a log of N Activity Tracker events (default 1,000,000) as the tracker does (RFC 8785
 * leaves, RFC 9162 tree, a signed C2SP checkpoint), then times what `berth events-verify
 * --bundle` does with a bundle of the whole log, R times (default 3): open the checkpoint,
 * check every index, rebuild the root from the bundle's leaves, and recompute every event's
 * canonical leaf hash. Prints each run (wall and CPU seconds), the median and range, and the
 * machine's load; progress every 100,000 events. Bounded: it stops with a message once
 * --max-seconds (default 3600; a million events took about 55 minutes
 * for building and three runs at a load of 30 on 2 cores) have passed.
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
    "max-seconds": { type: "string", default: "3600" },
  },
});
const n = Number(values.events);
const runs = Number(values.runs);
const deadline = performance.now() + Number(values["max-seconds"]) * 1000;
if (!(n > 0 && n <= 10_000_000 && runs > 0 && runs <= 20))
  throw new Error("--events takes 1 to 10,000,000 and --runs 1 to 20");
class OutOfTime extends Error {}
function inTime(what: string): void {
  if (performance.now() > deadline)
    throw new OutOfTime(
      `bench:verify stopped ${what}: over --max-seconds ${values["max-seconds"]}`,
    );
}
const progress = (what: string) => (done: number, total: number) => {
  inTime(what);
  if (done > 0 && (done % 100_000 === 0 || done === total))
    console.log(`  ${what}: ${done.toLocaleString("en")} of ${total.toLocaleString("en")}`);
};

console.log(
  `bench:verify  ${n.toLocaleString()} events, ${runs} runs; ${cpus().length} cores, load ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")}`,
);
const made = performance.now();
const entries: LogEntry[] = [];
const leaves: Buffer[] = [];
const building = progress("building");
try {
  for (let i = 0; i < n; i++) {
    if (i % 10_000 === 0) building(i, n);
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
  building(n, n);
} catch (error) {
  if (!(error instanceof OutOfTime)) throw error;
  console.log(error.message);
  process.exit(1);
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
const cpuSeconds: number[] = [];
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const opened = openCheckpoint(checkpoint, verifier, origin);
  if (!opened.ok) throw new Error(opened.reason);
  let problems: unknown[];
  try {
    inTime(`before run ${r + 1}`);
    problems = verifyEntries({
      checkpoint: opened.checkpoint,
      start: 0,
      end: n,
      entries,
      proof: [],
      onProgress: progress(`run ${r + 1} verifying`),
    });
  } catch (error) {
    if (!(error instanceof OutOfTime)) throw error;
    // The runs that finished are still worth their summary.
    console.log(error.message);
    break;
  }
  const s = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  cpuSeconds.push((cpu.user + cpu.system) / 1e6);
  if (problems.length > 0) throw new Error(`an untouched log failed: ${problems.length} problems`);
  seconds.push(s);
  console.log(
    `run ${r + 1}: ${s.toFixed(2)} s wall, ${cpuSeconds.at(-1)?.toFixed(2)} s CPU (${Math.round(n / s).toLocaleString("en")} events/s); load ${loadavg()[0]?.toFixed(1)}`,
  );
}
if (seconds.length === 0) process.exit(1);
const sorted = [...seconds].sort((a, b) => a - b);
const median = sorted[Math.floor(sorted.length / 2)] as number;
const cpuMedian = [...cpuSeconds].sort((a, b) => a - b)[Math.floor(seconds.length / 2)] as number;
console.log(
  `verify ${n.toLocaleString()} events offline: median ${median.toFixed(2)} s over ${seconds.length} runs (range ${(sorted[0] as number).toFixed(2)}–${(sorted[sorted.length - 1] as number).toFixed(2)} s), median CPU ${cpuMedian.toFixed(2)} s; load after ${loadavg()
    .map((l) => l.toFixed(1))
    .join(" ")} on ${cpus().length} cores (a shared machine: wall time counts the neighbours too)`,
);
