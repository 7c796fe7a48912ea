import { postgresOutage, QUICK_RETRIES } from "@berth/harness";
import { describe, expect, it } from "vitest";

// Postgres stopped and started under load (the embedded default; `pnpm fault:postgres
// --system` runs it against the system server): 503 with a clear message while it is down,
// recovery without a restart, nothing acknowledged lost. The full run is the script.

describe("Postgres stopped and started under load", () => {
  it("answers 503 while it is down, recovers by itself and loses nothing committed", async () => {
    const report = await postgresOutage({
      downMs: 3000,
      workerEnv: QUICK_RETRIES,
      drainTimeoutMs: 120_000,
    });
    for (const p of report.probes.filter((p) => p.what !== "/readyz")) {
      expect(p.status, p.what).toBe(503);
      expect(p.body, p.what).toMatch(/database is unavailable; try again shortly/);
      expect(p.body, p.what).not.toMatch(/select|params|ECONNREFUSED/i);
    }
    const readyz = report.probes.find((p) => p.what === "/readyz")!;
    expect(readyz.status).toBe(503);
    expect(readyz.body).toMatch(/database unreachable/);
    const v2 = report.probes.filter((p) => p.what.startsWith("/v2"));
    for (const p of v2) {
      expect(JSON.parse(p.body).errors[0].code).toBe("UNAVAILABLE");
      expect(p.retryAfter).toBe("5");
    }
    // Under load, the outage answered 503s (and nothing else but cut connections).
    expect(report.duringOutage["503"] ?? 0).toBeGreaterThan(0);
    expect(
      Object.keys(report.duringOutage).filter((s) => !["503", "0", "200", "201"].includes(s)),
    ).toEqual([]);
    expect(report.events.missing).toEqual([]);
    expect(report.events.duplicated).toEqual([]);
    expect(report.events.phantom).toEqual([]);
    expect(report.invariants.violations).toEqual([]);
    expect(report.leaks).toEqual([]);
    // The worker and tracker lived through it: every event reached the tracker once.
    const l = report.ledger;
    expect(l).toMatchObject({ lost: 0, duplicated: 0, unknown: 0, dead: 0, pending: 0 });
    expect(l.stored).toBe(l.enqueued);
  }, 240_000);
});
