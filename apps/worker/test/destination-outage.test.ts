import { brokenPromises, destinationOutage } from "@berth/harness";
import { describe, expect, it } from "vitest";

// Each receiver down in turn under a steady flow (`pnpm fault:destinations` keeps each down
// for a minute with the worker's production retry policy; here 20 s each, all four in one
// run, with a short retry cap so each catches up quickly). Deadlines are generous: the
// assertions are about what arrived and about lag relative to the outage, not about speed.
describe("each destination down under steady load", () => {
  it("loses nothing anywhere, duplicates nothing where the destination dedupes, and the others keep up while one is down", async () => {
    const report = await destinationOutage({
      downMs: 20_000,
      ratePerSecond: 10,
      gapMs: 3000,
      ...(process.env.DATABASE_URL ? { adminDatabaseUrl: process.env.DATABASE_URL } : {}),
      // The retry budget must outlast the outage: with full jitter a 2 s cap averages ~1 s a
      // try, so the default 25 tries span ~22 s, about the 20 s outage itself, and an event
      // first tried as its receiver went down could be dead-lettered just before it came back.
      workerEnv: {
        BERTH_WORKER_RETRY_BASE_MS: "200",
        BERTH_WORKER_RETRY_MAX_MS: "2000",
        BERTH_WORKER_MAX_ATTEMPTS: "200",
      },
      drainTimeoutMs: 180_000,
    });
    console.log(
      `destination outages: ${report.events} events; ${JSON.stringify(report.results)}; ${JSON.stringify(report.outages)}`,
    );
    expect(report.events).toBeGreaterThan(500);
    expect(brokenPromises(report)).toEqual([]);
    for (const r of Object.values(report.results)) expect(r.lost).toBe(0);
    for (const name of ["bus", "hooks", "ce", "tracker"] as const) {
      expect(report.results[name].duplicates).toBe(0);
    }
    expect(report.results.siem.redelivered).toBeGreaterThanOrEqual(report.results.siem.duplicates);
  }, 600_000);
});
