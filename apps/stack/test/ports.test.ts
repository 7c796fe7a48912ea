import { describe, expect, it } from "vitest";
import { choosePorts, portEnv, stackPorts } from "../src/ports";

describe("the stack's ports", () => {
  it("follow the settings: the worker's is the tracker's + 1 unless BERTH_WORKER_PORT is set", () => {
    expect(stackPorts({})).toEqual({
      regions: [{ region: "us-south", port: 5000 }],
      tracker: 7400,
      worker: 7401,
    });
    expect(stackPorts({ BERTH_PORT: "6000", BERTH_TRACKER_PORT: "8400" }).worker).toBe(8401);
    expect(stackPorts({ BERTH_TRACKER_PORT: "8400", BERTH_WORKER_PORT: "9000" }).worker).toBe(9000);
    expect(
      stackPorts({ BERTH_PORT: "6000", BERTH_REGIONS: "us-south,ap-north=6001" }).regions,
    ).toEqual([
      { region: "us-south", port: 6000 },
      { region: "ap-north", port: 6001 },
    ]);
  });

  it("name the setting that is not a port", () => {
    expect(() => stackPorts({ BERTH_PORT: "50x" })).toThrow(/BERTH_PORT/);
    expect(() => stackPorts({ BERTH_TRACKER_PORT: "70000" })).toThrow(/BERTH_TRACKER_PORT/);
    expect(() => stackPorts({ BERTH_WORKER_PORT: "-1" })).toThrow(/BERTH_WORKER_PORT/);
    expect(() => stackPorts({ BERTH_REGIONS: "us-south=abc" })).toThrow(/BERTH_REGIONS/);
  });

  it("0 becomes a free port, handed to the services", async () => {
    const chosen = await choosePorts(stackPorts({ BERTH_PORT: "0", BERTH_TRACKER_PORT: "0" }));
    const all = [chosen.regions[0]!.port, chosen.tracker, chosen.worker];
    for (const p of all) expect(p).toBeGreaterThan(0);
    expect(new Set(all).size).toBe(3);
    expect(portEnv(chosen)).toEqual({
      BERTH_PORT: String(all[0]),
      BERTH_REGIONS: `us-south=${all[0]}`,
      BERTH_TRACKER_PORT: String(all[1]),
      BERTH_WORKER_PORT: String(all[2]),
    });
  });
});
