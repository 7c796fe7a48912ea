import { afterAll, describe, expect, it } from "vitest";
import type { RunningWorker } from "../src/worker";
import { enqueue, makeEvent } from "./events";
import {
  databaseAndTracker,
  outboxCounts,
  storedByRegion,
  storedCount,
  waitFor,
  workerOn,
} from "./harness";

const { t, tracker } = await databaseAndTracker();
const workers: RunningWorker[] = [];
// Registered after the tracker's: runs before it is stopped.
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop()));
});

describe("two workers at once", () => {
  it("deliver 10,000 events between them, each exactly once", async () => {
    const total = 10_000;
    const regions = ["us-south", "ap-north", "eu-central", "global"] as const;
    const events = Array.from({ length: total }, (_, i) =>
      makeEvent({
        account: `acct${i % 7}`,
        region: regions[i % regions.length],
        action: "container-registry.image.pull",
        target: "birds/hello:latest",
      }),
    );
    // Two workers, each with its own pool and several batches in flight, race for the rows.
    for (let i = 0; i < 2; i++) {
      // Leases long enough that none expires while a batch waits for CPU on a busy machine:
      // this test is about two workers racing for rows, not about a worker that stalls.
      workers.push(
        await workerOn(t, tracker.url, {
          batchSize: 100,
          concurrency: 4,
          leaseMs: 60_000,
          requestTimeoutMs: 30_000,
        }),
      );
    }
    await enqueue(t.db, events);
    await waitFor(
      "all delivered",
      () => storedCount(t),
      (n) => n === total,
      90_000,
    );
    await waitFor(
      "empty outbox",
      () => outboxCounts(t),
      (c) => c.pending + c.dead === 0,
    );

    const [a, b] = workers.map((w) => w.stats());
    expect(a!.delivered).toBeGreaterThan(0);
    expect(b!.delivered).toBeGreaterThan(0);
    expect(a!.delivered + b!.delivered).toBe(total);
    // Not one event was sent twice: the tracker received exactly `total` lines.
    expect(tracker.stats()).toMatchObject({ received: total, accepted: total, duplicates: 0 });
    expect(
      await storedCount(
        t,
        events.map((e) => e.id),
      ),
    ).toBe(total);
    expect(await storedByRegion(t)).toEqual({
      "us-south": total / 2,
      "ap-south": total / 4,
      "eu-central": total / 4,
    });
  });
});
