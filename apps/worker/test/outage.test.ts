import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { TestDatabase } from "@berth/db/testing";
import type { RunningTracker } from "@berth/tracker/tracker";
import { describe, expect, it } from "vitest";
import type { RunningWorker } from "../src/worker";
import { enqueue, makeEvent } from "./events";
import { outboxCounts, storedCount, trackerOn, waitFor, withDatabase, workerOn } from "./harness";

let t: TestDatabase;
withDatabase((db) => {
  t = db;
});

describe("tracker down for a while", () => {
  it("keeps events waiting, backs off, and delivers everything once it returns", async () => {
    let tracker: RunningTracker = await trackerOn(t);
    const port = tracker.port;
    const url = tracker.url;
    await tracker.stop();
    let worker: RunningWorker | undefined;
    try {
      worker = await workerOn(t, url, { batchSize: 100 });
      const events = Array.from({ length: 300 }, (_, i) =>
        makeEvent({ region: i % 2 ? "ap-north" : "us-south" }),
      );
      await enqueue(t.db, events);
      // Refused connections: every event is retried, with growing, jittered delays.
      const retried = await waitFor(
        "retries",
        async () => ({
          stats: worker!.stats(),
          rows: await t.sql<{ attempts: number; last_error: string; due_ms: number }[]>`
            select attempts, last_error,
                   extract(epoch from (available_at - now())) * 1000 as due_ms
              from outbox`,
        }),
        (v) => v.stats.retried >= 300 * 2 && v.rows.every((r) => r.attempts >= 2),
      );
      expect(retried.stats.delivered).toBe(0);
      expect(retried.rows).toHaveLength(300);
      // The tenant's view of the failure: its kind, not the tracker's address or the errno.
      expect(retried.rows.every((r) => r.last_error === "tracker unreachable")).toBe(true);
      expect(await outboxCounts(t)).toEqual({ pending: 300, dead: 0 });
      const metrics = await worker.metrics();
      expect(metrics).toMatch(/berth_delivery_retried_total\{region="us-south"\} \d+/);
      expect(metrics).toMatch(/berth_outbox_pending 300/);

      tracker = await trackerOn(t, port);
      await waitFor(
        "delivery",
        () => storedCount(t),
        (n) => n === 300,
      );
      await waitFor(
        "empty outbox",
        () => outboxCounts(t),
        (c) => c.pending === 0,
      );
      expect(
        await storedCount(
          t,
          events.map((e) => e.id),
        ),
      ).toBe(300);
      expect(tracker.stats().duplicates).toBe(0);
      expect(worker.stats().deadLettered).toBe(0);
    } finally {
      await worker?.stop();
      await tracker.stop();
    }
  });

  it("retries 5xx and honours Retry-After, then dead-letters after the attempt budget", async () => {
    await t.sql`delete from outbox`;
    let hits = 0;
    const server: Server = createServer((_req, res) => {
      hits++;
      res.writeHead(503, { "retry-after": "0" });
      res.end("overloaded");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const worker = await workerOn(t, url, { maxAttempts: 3 });
    try {
      const e = makeEvent();
      await enqueue(t.db, [e]);
      const [dead] = await waitFor(
        "dead letter",
        () => t.sql<{ attempts: number; last_error: string }[]>`
          select attempts, last_error from outbox where status = 'dead'`,
        (rows) => rows.length === 1,
      );
      expect(dead!.attempts).toBe(3);
      expect(dead!.last_error).toBe("gave up after 3 attempts: tracker unavailable (503)");
      expect(hits).toBe(3);
    } finally {
      await worker.stop();
      await new Promise((r) => server.close(r));
    }
  });
});
