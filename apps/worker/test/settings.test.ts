import type { TestDatabase } from "@berth/db/testing";
import { describe, expect, it } from "vitest";
import { defaultWorkerPort, loadWorkerConfig } from "../src/config";
import { withDatabase } from "./harness";
import { runScript } from "./processes";

// Issue 13: one name for one setting in every process, and no fixed port.

let t: TestDatabase;
withDatabase((db) => {
  t = db;
});

const env = (extra: Record<string, string>) => ({
  DATABASE_URL: t.url,
  BERTH_TRACKER_URL: "http://127.0.0.1:9",
  BERTH_TRACKER_KEYS: "test-ingest",
  BERTH_WORKER_PORT: "0",
  ...extra,
});

async function startedLog(extra: Record<string, string>): Promise<string> {
  const w = runScript("src/main.ts", env(extra));
  try {
    await w.line(/^worker +http:\/\/\S+\/metrics/m);
    w.child.kill("SIGTERM");
    expect(await w.exited).toBe(0);
  } finally {
    w.child.kill("SIGKILL");
  }
  return w.output().err;
}

describe("worker settings", () => {
  it("takes its log level from BERTH_LOG_LEVEL, as the server does, and ignores LOG_LEVEL", async () => {
    expect(await startedLog({ BERTH_LOG_LEVEL: "info" })).toMatch(/"msg":"worker started"/);
    const quiet = await startedLog({ BERTH_LOG_LEVEL: "error", LOG_LEVEL: "info" });
    expect(quiet).not.toMatch(/worker started/);
  });

  it("puts its metrics port next to the tracker's, so two stacks do not collide", () => {
    expect(loadWorkerConfig({}).port).toBe(7401);
    expect(loadWorkerConfig({ BERTH_TRACKER_PORT: "7500" }).port).toBe(7501);
    expect(loadWorkerConfig({ BERTH_TRACKER_PORT: "0" }).port).toBe(0);
    expect(loadWorkerConfig({ BERTH_TRACKER_PORT: "7500", BERTH_WORKER_PORT: "9000" }).port).toBe(
      9000,
    );
    expect(defaultWorkerPort(65_535)).toBe(0);
  });

  it("prints the port it chose when given 0", async () => {
    const w = runScript("src/main.ts", env({}));
    try {
      const [, port] = await w.line(/^worker +http:\/\/127\.0\.0\.1:(\d+)\/metrics/m);
      expect(Number(port)).toBeGreaterThan(0);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    } finally {
      w.child.kill("SIGKILL");
    }
  });
});

describe("built-in secrets on a reachable address (issue 12)", () => {
  it("the worker refuses the built-in ingestion key and the embedded database there", () => {
    const reachable = { BERTH_HOST: "0.0.0.0", DATABASE_URL: "postgres://u:p@db/x" };
    expect(() => loadWorkerConfig(reachable)).toThrow(/^BERTH_TRACKER_KEYS: must be set/);
    expect(() =>
      loadWorkerConfig({
        ...reachable,
        BERTH_TRACKER_KEYS: "us-south=k1,*=berth-local-ingestion-key",
      }),
    ).toThrow(/BERTH_TRACKER_KEYS/);
    expect(() => loadWorkerConfig({ BERTH_HOST: "0.0.0.0", BERTH_TRACKER_KEYS: "k1" })).toThrow(
      /DATABASE_URL: must name a Postgres/,
    );
    expect(loadWorkerConfig({ ...reachable, BERTH_TRACKER_KEYS: "k1" }).host).toBe("0.0.0.0");
    expect(loadWorkerConfig({}).trackerKeys.fallback).toBe("berth-local-ingestion-key");
  });

  it("/metrics names no versions, addresses or keys", async () => {
    const w = runScript("src/main.ts", env({}));
    try {
      const [, url] = await w.line(/^worker +(http:\/\/\S+)\/metrics/m);
      const text = await (await fetch(`${url}/metrics`)).text();
      expect(text).toMatch(/berth_delivery_/);
      expect(text).not.toMatch(/version/i);
      expect(text).not.toMatch(/postgres:|test-ingest|127\.0\.0\.1:9/);
    } finally {
      w.child.kill("SIGKILL");
    }
  });
});
