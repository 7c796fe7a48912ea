import type { EventAccounting } from "./accounting";
import type { InvariantReport } from "./invariants";
import { scriptOptions, secondsLog } from "./script-options";

/**
 * The start of a `pnpm fault:*` script: its options (scriptOptions of `defaults`) and the log
 * its scenario reports progress to, each line stamped with the seconds since now.
 */
export function faultScript<D extends Parameters<typeof scriptOptions>[0]>(defaults: D) {
  return { values: scriptOptions(defaults), log: secondsLog() };
}

type Counted = keyof InvariantReport["counted"];

/**
 * What a fault run left consistent: the event accounting and the invariants over what
 * `counted` names (printEventAccounting, printInvariants). Returns how many problems there
 * are in all (all must be 0).
 */
export function printChecks(
  report: { events: EventAccounting; invariants: InvariantReport },
  counted: readonly Counted[],
): number {
  return printEventAccounting(report.events) + printInvariants(report.invariants, counted);
}

/**
 * The event accounting of a fault run: missing, duplicated, and success after a refusal,
 * then up to 20 of them by request. Returns how many there are (all must be 0).
 */
export function printEventAccounting(events: EventAccounting): number {
  console.log(
    `events: missing ${events.missing.length}, duplicated ${events.duplicated.length}, success after refusal ${events.phantom.length}`,
  );
  const problems = [...events.missing, ...events.duplicated, ...events.phantom];
  for (const e of problems.slice(0, 20)) console.log(`  event: ${e}`);
  return problems.length;
}

/**
 * The invariants over what `counted` names (in that order), then up to 20 violations.
 * Returns how many there are (all must be 0).
 */
export function printInvariants(report: InvariantReport, counted: readonly Counted[]): number {
  const over = counted.map((k) => `${report.counted[k]} ${k}`).join(", ");
  console.log(`invariants over ${over}: ${report.violations.length} violations`);
  for (const v of report.violations.slice(0, 20)) console.log(`  ${v.check}: ${v.detail}`);
  return report.violations.length;
}

/**
 * The options the outage scripts share (--down-seconds, --rate, --retry-max-ms: the worker's
 * retry policy is production's unless it is given), in a scenario's terms.
 */
export function outageOptions(values: {
  "down-seconds": number;
  rate: number;
  "retry-max-ms": string | undefined;
}): { downMs: number; ratePerSecond: number; workerEnv?: Record<string, string> } {
  const retryMaxMs = values["retry-max-ms"];
  return {
    downMs: values["down-seconds"] * 1000,
    ratePerSecond: values.rate,
    ...(retryMaxMs
      ? {
          workerEnv: {
            BERTH_WORKER_RETRY_MAX_MS: retryMaxMs,
            // Full jitter averages half the cap a try: with a short cap the default 25 tries
            // could run out inside the outage, so give them about twice its length.
            BERTH_WORKER_MAX_ATTEMPTS: String(
              Math.max(25, Math.ceil((4 * values["down-seconds"] * 1000) / Number(retryMaxMs))),
            ),
          },
        }
      : {}),
  };
}
