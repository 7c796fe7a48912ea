import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { ConfigError } from "@berth/service";
import { describe, expect, it } from "vitest";
import { loadConfig, loadEventsConfig } from "../src/config";
import { forFile, startTestServer } from "./helpers";

// Issue 12: a server listening where other machines reach it must not run on secrets that are
// published with Berth's source, and its /metrics and /readyz tell an attacker nothing.

const env = await forFile(startTestServer());

describe("built-in secrets on a reachable address", () => {
  it("the server process refuses to start, naming what to set", async () => {
    const pkgDir = fileURLToPath(new URL("..", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: pkgDir,
      env: {
        ...process.env,
        BERTH_HOST: "0.0.0.0",
        BERTH_PORT: "0",
        DATABASE_URL: env.t.url,
        BERTH_TRACKER_QUERY_KEY: "",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const code = await new Promise<number | null>((r) => child.on("exit", r));
    clearTimeout(timer);
    expect(out).toMatch(/BERTH_TRACKER_QUERY_KEY: must be set/);
    expect(out).not.toMatch(/listening/);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
  });

  it("the configuration names each built-in secret, and accepts real ones or loopback", () => {
    const reachable = { BERTH_HOST: "0.0.0.0" };
    expect(() => loadEventsConfig(reachable)).toThrow(ConfigError);
    expect(() => loadEventsConfig(reachable)).toThrow(/BERTH_TRACKER_QUERY_KEY/);
    expect(() =>
      loadEventsConfig({ ...reachable, BERTH_TRACKER_QUERY_KEY: "berth-local-query-key" }),
    ).toThrow(/BERTH_TRACKER_QUERY_KEY/);
    expect(() => loadConfig(reachable)).toThrow(/DATABASE_URL: must name a Postgres/);
    expect(
      loadEventsConfig({ ...reachable, BERTH_TRACKER_QUERY_KEY: "a-real-query-key" }).tracker
        .queryKey,
    ).toBe("a-real-query-key");
    expect(loadConfig({ ...reachable, DATABASE_URL: "postgres://u:p@db/x" }).host).toBe("0.0.0.0");
    for (const host of ["127.0.0.1", "::1", "localhost"]) {
      expect(loadEventsConfig({ BERTH_HOST: host }).tracker.queryKey).toBe("berth-local-query-key");
      expect(loadConfig({ BERTH_HOST: host }).host).toBe(host);
    }
  });
});

describe("what the server says", () => {
  it("/metrics names no versions, addresses or keys", async () => {
    const text = await (await fetch(`${env.url()}/metrics`)).text();
    expect(text).toMatch(/berth_server_/);
    expect(text).not.toMatch(/version/i);
    expect(text).not.toMatch(/postgres:|berth-local-query-key/);
  });

  it("/readyz and /healthz answer their status and region only", async () => {
    const ready = await (await fetch(`${env.url()}/readyz`)).json();
    expect(ready).toEqual({ status: "ready", region: "us-south" });
    expect(await (await fetch(`${env.url()}/healthz`)).json()).toEqual({
      status: "ok",
      region: "us-south",
    });
  });
});
