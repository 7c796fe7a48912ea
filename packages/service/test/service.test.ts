import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ConfigError,
  healthAnswer,
  isLoopback,
  loadEnv,
  port,
  readiness,
  refuseBuiltInSecrets,
} from "../src/index";

describe("loadEnv", () => {
  it("reads the common settings with their defaults, blanks counting as unset", () => {
    expect(loadEnv({}, {})).toEqual({ BERTH_HOST: "127.0.0.1", BERTH_LOG_LEVEL: "info" });
    const env = { BERTH_HOST: " ", BERTH_LOG_LEVEL: "warn", DATABASE_URL: "" };
    expect(loadEnv({}, env)).toEqual({ BERTH_HOST: "127.0.0.1", BERTH_LOG_LEVEL: "warn" });
    expect(env.DATABASE_URL).toBe("");
  });

  it("extends them with a process's own settings", () => {
    const e = loadEnv({ BERTH_X_PORT: port.default(7) }, { BERTH_X_PORT: "9" });
    expect(e.BERTH_X_PORT).toBe(9);
    expect(loadEnv({ BERTH_X_PORT: port.default(7) }, {}).BERTH_X_PORT).toBe(7);
  });

  it("names every bad variable, one a line", () => {
    const load = () =>
      loadEnv(
        { BERTH_X_PORT: port.optional(), BERTH_Y: z.string().optional() },
        { DATABASE_URL: "mysql://x", BERTH_LOG_LEVEL: "loud", BERTH_X_PORT: "70000" },
      );
    expect(load).toThrow(ConfigError);
    const lines = (() => {
      try {
        load();
      } catch (error) {
        return (error as Error).message.split("\n");
      }
      return [];
    })();
    expect(lines.map((l) => l.split(":")[0]).sort()).toEqual([
      "BERTH_LOG_LEVEL",
      "BERTH_X_PORT",
      "DATABASE_URL",
    ]);
  });
});

describe("built-in secrets", () => {
  it("knows loopback addresses", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"]) {
      expect(isLoopback(h), h).toBe(true);
    }
    for (const h of [
      "0.0.0.0",
      "::",
      "10.0.0.5",
      "192.168.1.1",
      "example.com",
      "::ffff:10.0.0.1",
    ]) {
      expect(isLoopback(h), h).toBe(false);
    }
  });

  it("refuses them on a reachable address, naming what to set", () => {
    const secrets = [
      { variable: "BERTH_TRACKER_KEYS", builtIn: true },
      { variable: "BERTH_TRACKER_QUERY_KEY", builtIn: false },
      { variable: "DATABASE_URL", builtIn: true, hint: "set it" },
    ];
    expect(() => refuseBuiltInSecrets("127.0.0.1", secrets)).not.toThrow();
    expect(() => refuseBuiltInSecrets("0.0.0.0", secrets)).toThrow(ConfigError);
    expect(() => refuseBuiltInSecrets("0.0.0.0", secrets)).toThrow(/^BERTH_TRACKER_KEYS: /);
    expect(() => refuseBuiltInSecrets("0.0.0.0", secrets)).toThrow(/\nDATABASE_URL: set it/);
    expect(() => refuseBuiltInSecrets("0.0.0.0", secrets)).not.toThrow(/QUERY_KEY/);
    expect(() => refuseBuiltInSecrets("0.0.0.0", [secrets[1]!])).not.toThrow();
  });
});

describe("health", () => {
  it("answers ready, or 503 naming only what is down, within the timeout", async () => {
    expect(await readiness({ ready: async () => 1, extra: { region: "us-south" } })).toEqual({
      statusCode: 200,
      body: { status: "ready", region: "us-south" },
    });
    const logged: unknown[] = [];
    const log = { warn: (o: object) => logged.push(o) };
    const secret = "connect ECONNREFUSED postgres://berth:hunter2@10.1.2.3:5432 PostgreSQL 18.1";
    const failed = await readiness({ ready: () => Promise.reject(new Error(secret)), log });
    expect(failed).toEqual({
      statusCode: 503,
      body: { status: "unavailable", reason: "database unreachable" },
    });
    const hung = await readiness({ ready: () => new Promise(() => {}), timeoutMs: 50, log });
    expect(hung.statusCode).toBe(503);
    expect(JSON.stringify([failed, hung])).not.toMatch(/hunter2|10\.1\.2\.3|PostgreSQL|ms/);
    // The operator still learns why.
    expect(JSON.stringify(logged.map((o) => String((o as { err: Error }).err)))).toMatch(
      /hunter2.*no answer within 50 ms/,
    );
  });

  it("answers the health paths and no others", async () => {
    const opts = { ready: async () => 1 };
    expect((await healthAnswer("/healthz", opts))?.body).toEqual({ status: "ok" });
    expect((await healthAnswer("/readyz", opts))?.statusCode).toBe(200);
    expect(await healthAnswer("/metrics", opts)).toBeUndefined();
  });
});
