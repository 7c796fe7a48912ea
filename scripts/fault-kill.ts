/**
 * `pnpm fault:kill [--kills 10] [--ops-between 40] [--concurrency 6] [--max-layer-mb 2]`
 *
 * kill -9 of the server process during a mixed load of pushes (layers up to 2 MB, so kills
 * land inside uploads), pulls and management calls, restarting it each time on the same
 * port and data. Prints what was cut, what was served corrupt or lost, the event
 * accounting and the invariants. Exits 1 when a promise is broken.
 */
import { faultScript, killServer, printChecks, printOperations, verdict } from "@berth/harness";

const { values, log } = faultScript({
  kills: 10,
  "ops-between": 40,
  concurrency: 6,
  "max-layer-mb": 2,
});
const report = await killServer({
  kills: values.kills,
  opsBetweenKills: values["ops-between"],
  concurrency: values.concurrency,
  layerBytes: [1024, Math.round(values["max-layer-mb"] * 1024 * 1024)],
  log,
});

console.log(`\nserver killed with SIGKILL ${report.kills} times under load`);
console.log(
  `operations ${report.requests}, acknowledged ${report.acknowledged}, in flight when killed ${report.cut}, refused while restarting ${report.refusedWhileDown}`,
);
printOperations(report.operations);
console.log(
  `pulls served corrupt bytes: ${report.corrupt}; acknowledged images lost: ${report.lostImages}`,
);
const counted = [
  "manifests",
  "references",
  "blobs",
  "events",
  "namespaces",
  "tokens",
  "tags",
] as const;
const problems = printChecks(report, counted);
console.log(`upload files left by cut uploads (collected by GC): ${report.leftoverUploads}`);
verdict(report.corrupt + report.lostImages > 0 || problems > 0);
