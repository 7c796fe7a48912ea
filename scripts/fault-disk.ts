/**
 * `pnpm fault:disk` (as root: it mounts a tmpfs)
 *
 * Disk errors of the blob store under a server process: the store is a 5 MB tmpfs, filled by
 * pushes until one does not fit (ENOSPC), then remounted read-only (EROFS), then writable
 * again. Prints how each failing request was answered, what the failed uploads left behind,
 * whether reads kept working, the failure events and the invariants. Exits 1 when a
 * promise is broken, 2 when this machine cannot mount a tmpfs.
 */
import { diskFaults, secondsLog, verdict } from "@berth/harness";

const report = await diskFaults({ log: secondsLog() });
if (!report) {
  console.error(
    "cannot mount a tmpfs here (run as root); the test suite simulates the errors instead",
  );
  process.exit(2);
}
console.log(`\nblob store on a ${report.capacityMb} MB ${report.mode}`);
console.log(`pushes of a 1.5 MB layer that fitted: ${report.pushedBeforeFull}`);
console.log("store full (ENOSPC):");
for (const a of report.full) {
  console.log(
    `  ${a.what.padEnd(42)} ${a.status}${a.range ? ` Range ${a.range}` : ""}  ${a.body.slice(0, 120)}`,
  );
}
console.log(
  `  bytes left in the upload area by the failed uploads: ${report.uploadBytesAfterFull}`,
);
console.log("store read-only (EROFS):");
for (const a of report.readOnly)
  console.log(`  ${a.what.padEnd(42)} ${a.status}  ${a.body.slice(0, 120)}`);
console.log(`  pull of an image stored before: ${report.pullWhileReadOnly}`);
console.log(`store writable again: push ${report.pushAfterRecovery}`);
console.log("failure events:");
for (const e of report.events) console.log(`  ${e.action} ${e.reasonCode}: ${e.reason}`);
const violations = [
  ...report.invariantsAfterFull.violations,
  ...report.invariantsAfterReadOnly.violations,
];
console.log(`invariant violations (after full, after read-only): ${violations.length}`);
for (const v of violations) console.log(`  ${v.check}: ${v.detail}`);
verdict(
  report.full.slice(0, 2).some((a) => a.status !== 507) ||
    report.readOnly.some((a) => a.status !== 503) ||
    report.uploadBytesAfterFull !== 0 ||
    report.pullWhileReadOnly !== 200 ||
    report.pushAfterRecovery !== 201 ||
    violations.length > 0,
);
