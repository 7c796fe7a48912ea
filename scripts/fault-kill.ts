/**
 * `pnpm fault:kill [--kills 10] [--ops-between 40] [--concurrency 6] [--max-layer-mb 2]`
 *
 * kill -9 of the server process during a mixed load of pushes (layers up to 2 MB, so kills
 * land inside uploads), pulls and management calls, restarting it each time on the same
 * port and data. Prints what was cut, what was served corrupt or lost, the event
 * accounting and the invariants. Exits 1 when a promise is broken.
 */
import { parseArgs } from "node:util";
import { killServer, printOperations } from "@berth/harness";

const { values } = parseArgs({
  options: {
    kills: { type: "string", default: "10" },
    "ops-between": { type: "string", default: "40" },
    concurrency: { type: "string", default: "6" },
    "max-layer-mb": { type: "string", default: "2" },
  },
});
const started = Date.now();
const report = await killServer({
  kills: Number(values.kills),
  opsBetweenKills: Number(values["ops-between"]),
  concurrency: Number(values.concurrency),
  layerBytes: [1024, Math.round(Number(values["max-layer-mb"]) * 1024 * 1024)],
  log: (line) => console.log(`[${((Date.now() - started) / 1000).toFixed(1)}s] ${line}`),
});

console.log(`\nserver killed with SIGKILL ${report.kills} times under load`);
console.log(
  `operations ${report.requests}, acknowledged ${report.acknowledged}, in flight when killed ${report.cut}, refused while restarting ${report.refusedWhileDown}`,
);
printOperations(report.operations);
console.log(
  `pulls served corrupt bytes: ${report.corrupt}; acknowledged images lost: ${report.lostImages}`,
);
console.log(
  `events: missing ${report.events.missing.length}, duplicated ${report.events.duplicated.length}, success after refusal ${report.events.phantom.length}`,
);
const c = report.invariants.counted;
console.log(
  `invariants over ${c.manifests} manifests, ${c.references} references, ${c.blobs} blobs, ${c.events} events, ${c.namespaces} namespaces, ${c.tokens} tokens, ${c.tags} tags: ${report.invariants.violations.length} violations`,
);
for (const v of report.invariants.violations.slice(0, 20)) console.log(`  ${v.check}: ${v.detail}`);
for (const m of [
  ...report.events.missing,
  ...report.events.duplicated,
  ...report.events.phantom,
].slice(0, 20)) {
  console.log(`  event: ${m}`);
}
console.log(`upload files left by cut uploads (collected by GC): ${report.leftoverUploads}`);
const broken =
  report.corrupt + report.lostImages > 0 ||
  report.events.missing.length + report.events.duplicated.length + report.events.phantom.length >
    0 ||
  report.invariants.violations.length > 0;
console.log(broken ? "\nFAILED" : "\nOK");
process.exit(broken ? 1 : 0);
