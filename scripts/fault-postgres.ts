/**
 * `pnpm fault:postgres [--down-seconds 30] [--system] [--concurrency 4]`
 *
 * Postgres stopped and started under a mixed load of pushes, pulls and management calls
 * against a server process: prints how the server answered while the database was down
 * (/readyz, tRPC, /v2, /token), how long it took to recover by itself once the database was
 * back, and the consistency figures (acknowledged requests without their event, duplicated
 * events, invariant violations, and every event the outbox received against the tracker:
 * the worker and tracker run through the outage too). `--system` stops and starts the system PostgreSQL with
 * pg_ctlcluster (and always starts it again); the default is an embedded one in a temp dir.
 * Exits 1 when a promise is broken.
 */
import { faultScript, postgresOutage, printChecks, printOperations, verdict } from "@berth/harness";

const { values, log } = faultScript({ "down-seconds": 30, system: false, concurrency: 4 });
const downMs = values["down-seconds"] * 1000;
if (!(downMs > 0)) throw new Error("--down-seconds must be a positive number");

const report = await postgresOutage({
  downMs,
  system: values.system,
  concurrency: values.concurrency,
  log,
});

console.log(
  `\nPostgres (${values.system ? "system server" : "embedded"}) down for ${downMs / 1000} s under load`,
);
console.log("while down:");
for (const p of report.probes) {
  console.log(
    `  ${p.what.padEnd(32)} ${p.status} in ${p.ms.toFixed(0).padStart(4)} ms${p.retryAfter ? ` (Retry-After ${p.retryAfter})` : ""}  ${p.body.slice(0, 100)}`,
  );
}
console.log(
  `  load answered: ${JSON.stringify(report.duringOutage)} (status: requests; 0 = no answer)`,
);
console.log(`recovered by itself ${report.recoveryMs.toFixed(0)} ms after Postgres was back`);
console.log(`operations ${report.requests}, acknowledged ${report.acknowledged}`);
printOperations(report.operations);
const problems = printChecks(report, ["manifests", "blobs", "events", "namespaces", "tokens"]);
const l = report.ledger;
console.log(
  `delivery (worker and tracker through the outage): enqueued ${l.enqueued}, in the tracker ${l.stored}, lost ${l.lost}, duplicated ${l.duplicated}, unknown ${l.unknown}, dead ${l.dead}; caught up ${(report.drainMs / 1000).toFixed(1)} s after the load`,
);
console.log(`secrets or query parameters in the server's logs: ${report.leaks.length}`);
verdict(
  report.probes.some((p) => p.status !== 503) ||
    problems > 0 ||
    l.lost + l.duplicated + l.unknown + l.dead > 0 ||
    l.enqueued !== l.stored ||
    report.leaks.length > 0,
);
