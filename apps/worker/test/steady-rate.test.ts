import { wakeWorkers } from "@berth/db";
import { afterAll, describe, expect, it } from "vitest";
import type { WorkerOptions } from "../src/worker";
import { enqueue, makeEvent } from "./events";
import { databaseAndTracker, proxyTo, stopAll, storedCount, waitFor, workerOn } from "./harness";

const { t, tracker } = await databaseAndTracker();
const proxies: { close(): Promise<void> }[] = [];
afterAll(() => stopAll(...proxies));

const event = () => makeEvent({ region: "us-south", account: "steady1" });

/** Commit `count` events one by one, `gapMs` apart, each followed by the workers' wake-up. */
async function produce(count: number, gapMs: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const e = event();
    ids.push(e.id);
    await enqueue(t.db, [e]);
    wakeWorkers(t.db);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  return ids;
}

/** Run `use` with a worker of four loops sending through `proxyUrl`; the worker stops after. */
async function withWorker(
  proxyUrl: string,
  extra: Partial<WorkerOptions>,
  use: () => Promise<void>,
): Promise<void> {
  const worker = await workerOn(t, proxyUrl, { concurrency: 4, pollMs: 60_000, ...extra });
  try {
    await use();
  } finally {
    await worker.stop();
  }
}

describe("a worker with several loops at a steady rate", () => {
  it("sends the events committed while a batch is delivered in its loop's next batch, not in batches of their own", async () => {
    const proxy = await proxyTo(tracker.url, () => ({ forward: true, delayMs: 10 }));
    proxies.push(proxy);
    // A hold far longer than any delivery: no second loop may claim while one delivers,
    // however slow the machine.
    await withWorker(proxy.url, { holdMs: 60_000 }, async () => {
      const ids = await produce(60, 3);
      await waitFor(
        "the 60 events stored",
        () => storedCount(t, ids),
        (n) => n === ids.length,
      );
    });
    // Each notification used to wake an idle loop, so batches of one or two overlapped.
    expect(
      proxy.mostAtOnce(),
      `ingestion requests in flight at once (${proxy.requests()} requests for 60 events)`,
    ).toBe(1);
    expect(proxy.requests()).toBeLessThan(60);
  });

  it("lets other loops take new events while a delivery is held longer than HOLD_MS (100 ms)", async () => {
    // The first request is answered after 8 s; every later one at once.
    const proxy = await proxyTo(tracker.url, (n) => ({
      forward: true,
      delayMs: n === 1 ? 8000 : 0,
    }));
    proxies.push(proxy);
    await withWorker(proxy.url, { requestTimeoutMs: 20_000 }, async () => {
      await produce(1, 0);
      await waitFor(
        "the first request to reach the proxy",
        async () => proxy.requests(),
        (n) => n >= 1,
      );
      // One after the other, each while the first request is still held: not only the first
      // event committed behind it may pass it.
      for (const k of [1, 2, 3]) {
        const [late] = await produce(1, 0);
        await waitFor(
          `event ${k} committed behind the held delivery to be stored`,
          () => storedCount(t, [late!]),
          (n) => n === 1,
          2000,
        );
      }
    });
    // Stored while the first request was still held: other loops claimed them.
    expect(proxy.mostAtOnce()).toBe(2);
  });
});
