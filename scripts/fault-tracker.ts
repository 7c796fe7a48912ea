/**
 * `pnpm fault:tracker [--down-seconds 180] [--rate 20] [--before-seconds 20]
 * [--after-seconds 20] [--retry-max-ms <worker's default>]`
 *
 * The tracker endpoint killed and kept down for minutes under a steady load of pushes,
 * pulls and management calls (every one an audited action), then started again. The worker
 * runs with its production retry policy unless --retry-max-ms shortens it. Prints the lag
 * and backlog over time (from the worker's /metrics), how long the backlog took to drain,
 * and the ledger: events the outbox received vs events the tracker holds (lost, duplicated,
 * unknown: all must be 0). Exits 1 when a promise is broken.
 */
import {
  faultScript,
  outageOptions,
  printOperations,
  trackerOutage,
  verdict,
} from "@berth/harness";

const { values, log } = faultScript({
  "down-seconds": 180,
  rate: 20,
  "before-seconds": 20,
  "after-seconds": 20,
  "retry-max-ms": null,
});
const report = await trackerOutage({
  ...outageOptions(values),
  beforeMs: values["before-seconds"] * 1000,
  afterMs: values["after-seconds"] * 1000,
  log,
});

console.log(`\ntracker down ${values["down-seconds"]} s under ${values.rate} operations/s`);
console.log("lag and backlog (worker /metrics), every ~10 s:");
let last = -Infinity;
for (const s of report.samples) {
  if (s.t - last < 10 && s !== report.samples.at(-1)) continue;
  last = s.t;
  console.log(
    `  t=${s.t.toFixed(0).padStart(4)} s  ${s.phase.padEnd(6)}  pending ${String(s.pending).padStart(6)}  lag ${s.lagSeconds.toFixed(1).padStart(6)} s`,
  );
}
console.log(
  `max lag ${report.maxLagSeconds.toFixed(1)} s, max backlog ${report.maxPending}; lag at the end ${report.lagAtEnd.toFixed(1)} s`,
);
console.log(`backlog drained ${(report.drainMs / 1000).toFixed(1)} s after the tracker came back`);
console.log(`operations ${report.requests}, acknowledged ${report.acknowledged}`);
printOperations(report.operations);
const l = report.ledger;
console.log(
  `ledger: enqueued ${l.enqueued}, stored in the tracker ${l.stored}, lost ${l.lost}, duplicated ${l.duplicated}, unknown ${l.unknown}, dead-lettered ${l.dead}`,
);
console.log(
  `worker: delivered ${report.worker.delivered}, retried ${report.worker.retried}, dead-lettered ${report.worker.deadLettered}`,
);
console.log(
  `per request: missing ${report.events.missing.length}, duplicated ${report.events.duplicated.length}`,
);
const broken =
  l.lost + l.duplicated + l.unknown + l.dead > 0 ||
  l.enqueued !== l.stored ||
  report.events.missing.length + report.events.duplicated.length > 0 ||
  !(report.maxLagSeconds > 0) ||
  !(report.lagAtEnd < Math.min(1, report.maxLagSeconds));
verdict(broken);
