import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import { runEntry } from "@berth/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const pkgDir = fileURLToPath(new URL("..", import.meta.url));

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => t?.drop());

/** The tracker's entry as a real process, with `env` added to this one's. */
const run = (env: Record<string, string>) => runEntry("src/main.ts", { cwd: pkgDir, env });

describe("tracker process", () => {
  it("prints its URL and its log key when ready, keeps the key across restarts, and stops cleanly on SIGTERM", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "berth-tracker-"));
    const env = {
      DATABASE_URL: t.url,
      BERTH_TRACKER_PORT: "0",
      BERTH_LOG_LEVEL: "warn",
      BERTH_DATA_DIR: dataDir,
    };
    const p = run(env);
    const [, url] = await p.line(/^tracker +(http:\/\/\S+)$/m);
    const [, key] = await p.line(/^log key +(berth\.tracker\+[0-9a-f]{8}\+\S+)$/m);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    expect((await fetch(`${url}/regions/us-south/v2/log/key`)).status).toBe(200);
    p.child.kill("SIGTERM");
    expect(await p.exited).toBe(0);
    expect(p.output().out.trim().split("\n")).toHaveLength(2);
    // The private key is the operator's alone.
    expect((await stat(join(dataDir, "tracker", "log-signing-key"))).mode & 0o777).toBe(0o600);
    const again = run(env);
    const [, keyAgain] = await again.line(/^log key +(\S+)$/m);
    expect(keyAgain).toBe(key);
    again.child.kill("SIGTERM");
    expect(await again.exited).toBe(0);
    await rm(dataDir, { recursive: true, force: true });
  });

  it("takes its log level from BERTH_LOG_LEVEL, as the server does, and ignores LOG_LEVEL", async () => {
    const started = async (env: Record<string, string>) => {
      const p = run({ DATABASE_URL: t.url, BERTH_TRACKER_PORT: "0", ...env });
      await p.line(/^tracker +http:\/\/\S+$/m);
      p.child.kill("SIGTERM");
      expect(await p.exited).toBe(0);
      return p.output().err;
    };
    expect(await started({ BERTH_LOG_LEVEL: "info" })).toMatch(/Server listening/);
    expect(await started({ BERTH_LOG_LEVEL: "error", LOG_LEVEL: "info" })).not.toMatch(
      /Server listening/,
    );
  });

  it("refuses a bad variable and names it", async () => {
    const p = run({ DATABASE_URL: t.url, BERTH_TRACKER_PORT: "seventy" });
    expect(await p.exited).toBe(2);
    expect(p.output().err).toMatch(/BERTH_TRACKER_PORT/);
  });
});

describe("the benchmark's unlogged tracker (BERTH_BENCH_UNLOGGED)", () => {
  // A tracker that enters nothing in the verifiable log cannot be verified: it must never run
  // where clients could reach it.
  it("refuses to start on a reachable address, even with real keys", async () => {
    const p = run({
      DATABASE_URL: t.url,
      BERTH_TRACKER_PORT: "0",
      BERTH_LOG_LEVEL: "warn",
      BERTH_BENCH_UNLOGGED: "1",
      BERTH_HOST: "0.0.0.0",
      BERTH_TRACKER_KEYS: "us-south=a-real-ingestion-key",
      BERTH_TRACKER_QUERY_KEY: "a-real-query-key",
    });
    const code = await Promise.race([
      p.exited,
      new Promise<"hung">((r) => setTimeout(() => r("hung"), 60_000)),
    ]);
    if (code === "hung") p.child.kill("SIGKILL");
    const { out, err } = p.output();
    expect(code, err).not.toBe(0);
    expect(code, err).not.toBe("hung");
    expect(err).toMatch(/BERTH_BENCH_UNLOGGED is for benchmarks on loopback only/);
    expect(out).not.toMatch(/^tracker /m);
  });
});
