import { createTrackerClient } from "@berth/tracker-client";
import { describe, expect, it } from "vitest";
import { enqueue, makeEvent } from "./events";
import {
  databaseAndTracker,
  outboxCounts,
  proxyTo,
  QUERY_KEY,
  storedCount,
  waitFor,
} from "./harness";
import { runScript, workerEnv } from "./processes";

const { t, tracker } = await databaseAndTracker();

/** Longer leases and timeouts than the default test worker's: batches in flight get killed. */
const env = (trackerUrl: string, extra: Record<string, string> = {}) =>
  workerEnv(t, trackerUrl, {
    BERTH_WORKER_LEASE_MS: "5000",
    BERTH_WORKER_TIMEOUT_MS: "3000",
    BERTH_WORKER_BATCH_SIZE: "100",
    BERTH_WORKER_CONCURRENCY: "2",
    ...extra,
  });

describe("worker processes", () => {
  it("loses nothing to kill -9 mid-batch: a restart delivers all, none twice in the tracker", async () => {
    const total = 1000;
    const events = Array.from({ length: total }, (_, i) =>
      makeEvent({ account: "crash-co", region: i % 3 === 0 ? "ap-north" : "us-south" }),
    );
    await enqueue(t.db, events);
    // The first request reaches the tracker and is stored, but its answer never comes back.
    const proxy = await proxyTo(tracker.url, (n) => ({ forward: true, never: n === 1 }));
    const first = runScript("src/main.ts", env(proxy.url));
    try {
      await first.line(/^worker +http:\/\/\S+\/metrics \((worker-[0-9a-f]+)\)$/m);
      await proxy.stored(1);
      first.child.kill("SIGKILL");
      expect(await first.exited).toBeNull();
    } finally {
      first.child.kill("SIGKILL");
    }
    const stranded = await t.sql<{ n: number }[]>`
      select count(*)::int as n from outbox where leased_until > now() and attempts = 1`;
    const storedBeforeRestart = await storedCount(t);
    expect(stranded[0]!.n).toBeGreaterThan(0);
    expect(storedBeforeRestart).toBeGreaterThan(0);

    const second = runScript("src/main.ts", env(tracker.url));
    try {
      await second.line(/^worker +http/m);
      await waitFor(
        "all delivered",
        () => storedCount(t),
        (n) => n === total,
      );
      await waitFor(
        "empty outbox",
        () => outboxCounts(t),
        (c) => c.pending + c.dead === 0,
      );
      second.child.kill("SIGTERM");
      expect(await second.exited).toBe(0);
    } finally {
      second.child.kill("SIGKILL");
      await proxy.close();
    }

    // The batch whose answer was lost was sent again (the tracker saw it twice) ...
    const s = tracker.stats();
    expect(s.duplicates).toBeGreaterThan(0);
    expect(s.received).toBe(total + s.duplicates);
    // ... and the tenant still sees each event exactly once.
    expect(
      await storedCount(
        t,
        events.map((e) => e.id),
      ),
    ).toBe(total);
    const client = createTrackerClient({ url: tracker.url, queryKey: QUERY_KEY });
    const seen: string[] = [];
    for (const region of ["us-south", "ap-south"]) {
      let cursor: string | undefined;
      for (let page = 0; page < 10; page++) {
        const res = await client.export(region, {
          account: "crash-co",
          size: 500,
          ...(cursor ? { pagination_id: cursor } : {}),
        });
        seen.push(...res.lines.map((l) => l._id));
        if (!res.pagination_id) break;
        cursor = res.pagination_id;
      }
    }
    expect(seen).toHaveLength(total);
    expect(new Set(seen).size).toBe(total);
  });

  it("on SIGTERM finishes the batch in flight, gives nothing up to a lease, and exits 0", async () => {
    await t.sql`delete from outbox`;
    const events = Array.from({ length: 300 }, () => makeEvent({ account: "term-co" }));
    await enqueue(t.db, events);
    // Every answer is slow, so the signal lands while a request is in flight.
    const proxy = await proxyTo(tracker.url, () => ({ forward: true, delayMs: 1000 }));
    const w = runScript("src/main.ts", env(proxy.url));
    try {
      const [, url] = await w.line(/^worker +(http:\/\/\S+)\/metrics/m);
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      // Ready once its database answers within the probe's timeout (a busy machine may need a
      // few probes while the pool connects).
      await waitFor(
        "/readyz 200",
        async () => (await fetch(`${url}/readyz`)).status,
        (status) => status === 200,
        30_000,
      );
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/berth_outbox_oldest_pending_age_seconds/);
      expect(metrics).toMatch(/berth_delivery_batch_duration_seconds/);
      await proxy.stored(1);
      w.child.kill("SIGTERM");
      expect(await w.exited).toBe(0);
    } finally {
      w.child.kill("SIGKILL");
      await proxy.close();
    }
    // What was in flight got its answer and was settled; nothing waits on a lease.
    const [leased] = await t.sql<{ n: number }[]>`
      select count(*)::int as n from outbox where leased_until > now()`;
    expect(leased!.n).toBe(0);
    const delivered = await storedCount(
      t,
      events.map((e) => e.id),
    );
    expect(delivered).toBeGreaterThan(0);
    const [left] = await t.sql<{ n: number }[]>`select count(*)::int as n from outbox`;
    expect(left!.n).toBe(300 - delivered);
  });

  it("refuses a bad variable and names it", async () => {
    const w = runScript("src/main.ts", { ...env(tracker.url), BERTH_ROUTING: "ap-north=" });
    expect(await w.exited).toBe(2);
    expect(w.output().err).toMatch(/BERTH_ROUTING/);
  });
});
