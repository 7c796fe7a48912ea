/**
 * `pnpm fault:destinations [--down-seconds 60] [--rate 20] [--gap-seconds 10]
 * [--retry-max-ms <worker's default>]`
 *
 * Each destination's receiver down in turn for --down-seconds under a steady flow of
 * events (rsyslog stopped and nats-server killed, the webhook and CloudEvents receivers refusing
 * connections), then back; the tracker stays up throughout. Prints, per destination, events
 * enqueued and received, lost, duplicates kept, requests repeated and redeliveries counted, and
 * per outage the down one's lag and backlog beside the others'. Exits 1 when a promise is
 * broken: an event lost, a duplicate where the destination dedupes, syslog duplicates beyond
 * the redelivery count, or a destination falling behind while another is down.
 */
import {
  brokenPromises,
  destinationOutage,
  faultScript,
  outageOptions,
  verdict,
} from "@berth/harness";

const { values, log } = faultScript({
  "down-seconds": 60,
  rate: 20,
  "gap-seconds": 10,
  "retry-max-ms": null,
});
const report = await destinationOutage({
  ...outageOptions(values),
  gapMs: values["gap-seconds"] * 1000,
  log,
});

console.log(
  `\neach receiver down ${values["down-seconds"]} s in turn, ${values.rate} events/s: ${report.events} events`,
);
console.log(
  "destination  received  lost  duplicates kept  requests repeated  redelivered (metric)",
);
for (const [name, r] of Object.entries(report.results)) {
  console.log(
    `${name.padEnd(11)}  ${String(r.received).padStart(8)}  ${String(r.lost).padStart(4)}  ${String(r.duplicates).padStart(15)}  ${String(r.repeats).padStart(17)}  ${String(r.redelivered).padStart(20)}`,
  );
}
console.log("\noutage  its max lag / backlog  caught up in  others' max lag / backlog meanwhile");
for (const w of report.outages) {
  const others = Object.entries(w.others)
    .map(([n, o]) => `${n} ${o.maxLagSeconds.toFixed(1)} s/${o.maxPending}`)
    .join(", ");
  console.log(
    `${w.down.padEnd(6)}  ${`${w.maxLagSeconds.toFixed(1)} s / ${w.maxPending}`.padStart(21)}  ${`${w.recoverySeconds.toFixed(1)} s`.padStart(12)}  ${others}`,
  );
}
console.log(`everything held everywhere ${report.drainSeconds.toFixed(1)} s after the load ended`);
const broken = brokenPromises(report);
for (const b of broken) console.log(`BROKEN: ${b}`);
verdict(broken.length > 0);
