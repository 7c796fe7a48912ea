import { killServer } from "@berth/harness";
import { describe, expect, it } from "vitest";

// kill -9 of the server process during pushes (layers up to 1 MB), pulls and management
// calls, restarted on the same data each time. `pnpm fault:kill` runs it longer.

describe("kill -9 of the server under load", () => {
  it("leaves no half-written state: blobs stored, usage exact, every change with its event", async () => {
    const report = await killServer({
      kills: 2,
      opsBetweenKills: 15,
      concurrency: 4,
      layerBytes: [1024, 1024 * 1024],
    });
    expect(report.kills).toBe(2);
    expect(report.acknowledged).toBeGreaterThan(30);
    expect(report.corrupt).toBe(0);
    expect(report.lostImages).toBe(0);
    expect(report.events.missing).toEqual([]);
    expect(report.events.duplicated).toEqual([]);
    expect(report.events.phantom).toEqual([]);
    expect(report.invariants.violations).toEqual([]);
    expect(report.invariants.counted.manifests).toBeGreaterThan(0);
  }, 300_000);
});
