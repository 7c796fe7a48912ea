import { LATER_ROUTING } from "@berth/core";
import { describe, expect, it } from "vitest";
import { backoffDelay, retryAfterMs } from "../src/backoff";
import { bodyOf, chunk, halves } from "../src/batch";
import { loadWorkerConfig } from "../src/config";

describe("configuration", () => {
  it("defaults to the local tracker, its key and the default routing", () => {
    const c = loadWorkerConfig({});
    expect(c.trackerUrl).toBe("http://127.0.0.1:7400");
    expect(c.trackerKeys.fallback).toBe("berth-local-ingestion-key");
    expect(c.routing.name).toBe("default");
    expect(loadWorkerConfig({ BERTH_TRACKER_PORT: "7500" }).trackerUrl).toBe(
      "http://127.0.0.1:7500",
    );
  });

  it("reads tables, routing specs and tunables", () => {
    const c = loadWorkerConfig({
      BERTH_TRACKER_URL: "us-south=http://a:1,ap-south=https://b/x",
      BERTH_TRACKER_KEYS: "us-south=k1,*=k2",
      BERTH_ROUTING: "later",
      BERTH_WORKER_CONCURRENCY: "8",
      BERTH_WORKER_PORT: "0",
    });
    expect(c.routing).toBe(LATER_ROUTING);
    expect(c.trackerKeys).toEqual({ fallback: "k2", entries: { "us-south": "k1" } });
    expect(c.concurrency).toBe(8);
    expect(c.port).toBe(0);
    expect(loadWorkerConfig({ BERTH_ROUTING: "global=eu-central" }).routing.routes.global).toBe(
      "eu-central",
    );
  });

  it("names the bad variable", () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ DATABASE_URL: "not a url" }, /^DATABASE_URL/],
      [{ BERTH_WORKER_PORT: "-1" }, /^BERTH_WORKER_PORT/],
      [{ BERTH_WORKER_CONCURRENCY: "lots" }, /^BERTH_WORKER_CONCURRENCY/],
      [{ BERTH_TRACKER_URL: "ftp://x" }, /^BERTH_TRACKER_URL/],
      [{ BERTH_TRACKER_KEYS: "us-south=" }, /^BERTH_TRACKER_KEYS/],
      [{ BERTH_ROUTING: "nowhere" }, /^BERTH_ROUTING/],
      [{ BERTH_WORKER_TIMEOUT_MS: "60000", BERTH_WORKER_LEASE_MS: "1000" }, /TIMEOUT_MS/],
    ];
    for (const [env, message] of bad) expect(() => loadWorkerConfig(env)).toThrow(message);
  });
});

describe("backoff", () => {
  it("draws from a window that doubles up to the cap (full jitter)", () => {
    const opts = { baseMs: 100, maxMs: 1000 };
    expect(backoffDelay(1, opts, () => 0.999)).toBe(99);
    expect(backoffDelay(3, opts, () => 0.999)).toBe(399);
    expect(backoffDelay(30, opts, () => 0.999)).toBe(999);
    expect(backoffDelay(5, opts, () => 0)).toBe(0);
  });

  it("reads Retry-After", () => {
    expect(retryAfterMs("3")).toBe(3000);
    expect(retryAfterMs(undefined)).toBe(0);
    expect(retryAfterMs(new Date(10_000).toUTCString(), 5000)).toBe(5000);
  });
});

describe("batches", () => {
  const row = (i: number, size = 10) => {
    const payload = JSON.stringify({ id: `id${i}`, pad: "x".repeat(size) });
    return {
      id: `id${i}`,
      seq: i,
      region: "us-south",
      attempts: 1,
      createdAt: new Date(0),
      availableUs: 0,
      payload,
      payloadBytes: Buffer.from(payload),
      message: `Container Registry: "${i}"`,
      severity: i % 2 ? "critical" : "warning",
      eventTime: "2019-06-01T12:34:56.78+0000",
    };
  };

  it("writes ingestion lines around the stored JSON", () => {
    const [only] = chunk([row(1)], 10, 1 << 20);
    const line = JSON.parse(bodyOf(only!).toString()).lines[0];
    expect(line).toEqual({
      timestamp: Date.UTC(2019, 5, 1, 12, 34, 56, 780),
      line: 'Container Registry: "1"',
      app: "container-registry",
      level: "ERROR",
      meta: { id: "id1", pad: "x".repeat(10) },
    });
  });

  it("bounds requests by lines and bytes, and halves them", () => {
    const rows = Array.from({ length: 10 }, (_, i) => row(i, 1000));
    expect(chunk(rows, 4, 1 << 20).map((c) => c.rows.length)).toEqual([4, 4, 2]);
    const bySize = chunk(rows, 100, 3500);
    expect(bySize.every((c) => c.bytes <= 3500)).toBe(true);
    expect(bySize.flatMap((c) => c.rows)).toEqual(rows);
    const [a, b] = halves(chunk(rows, 100, 1 << 20)[0]!);
    expect([a.rows.length, b.rows.length]).toEqual([5, 5]);
  });
});
