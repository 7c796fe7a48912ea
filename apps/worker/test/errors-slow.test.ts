import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import type { RunningTracker } from "@berth/tracker/tracker";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DestinationSpec } from "../src/destination-config";
import type { RunningWorker } from "../src/worker";
import { enqueue, makeEvent } from "./events";
import { storedCount, trackerOn, waitFor, workerOn } from "./harness";
import { destinationLedgers, expectAllDelivered } from "./ledgers";
import { repeats, startNats, startReceiver, startRsyslog } from "./receivers";

const SECRET = `whsec_${Buffer.from("berth-errors-and-slow-secret").toString("base64")}`;

let t: TestDatabase;
let tracker: RunningTracker;
let rsyslog: Awaited<ReturnType<typeof startRsyslog>>;
let nats: Awaited<ReturnType<typeof startNats>>;
let worker: RunningWorker | undefined;
beforeAll(async () => {
  t = await createTestDatabase();
  tracker = await trackerOn(t);
  rsyslog = await startRsyslog();
  nats = await startNats();
});
afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  await t.sql`delete from deliveries`;
  await t.sql`delete from outbox`;
});
afterAll(async () => {
  await tracker?.stop();
  await rsyslog?.stop();
  await nats?.stop();
  await t?.drop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `rounds` of `per` events, one round every 250 ms: a steady flow, bounded. */
async function flow(rounds: number, per: number, during?: (round: number) => void) {
  const events: ReturnType<typeof makeEvent>[] = [];
  for (let round = 0; round < rounds; round++) {
    during?.(round);
    const batch = Array.from({ length: per }, () => makeEvent({ account: "flow-co" }));
    events.push(...batch);
    await enqueue(t.db, batch);
    await sleep(250);
  }
  return events.map((e) => e.id);
}

const beside = (): DestinationSpec[] => [
  { name: "siem", type: "syslog", url: rsyslog.url },
  { name: "bus", type: "jetstream", url: nats.url, subject: nats.subject },
];

describe("receivers that answer errors, and slow ones", () => {
  it("500 and 503 for a while: retried until taken, nothing dead, each event taken once; the other destinations never retry", async () => {
    const hooks = await startReceiver("webhook", { secret: SECRET });
    const ce = await startReceiver("cloudevents");
    try {
      worker = await workerOn(t, tracker.url, {
        destinations: [
          ...beside(),
          { name: "hooks", type: "webhook", url: hooks.url, secret: SECRET },
          { name: "ce", type: "cloudevents", url: ce.url },
        ],
      });
      hooks.state.status = 503;
      ce.state.status = 500;
      // Errors for the first half of the flow (about 3 s), then 200s.
      const ids = await flow(24, 5, (round) => {
        if (round === 12) {
          hooks.state.status = 200;
          ce.state.status = 200;
        }
      });
      await expectAllDelivered(t, ["tracker", "siem", "bus", "hooks", "ce"]);
      for (const r of [hooks, ce]) {
        expect(new Set(r.state.taken.keys())).toEqual(new Set(ids));
        // A 5xx took nothing, so nothing was taken twice.
        expect(repeats(r.state.taken)).toBe(0);
        expect(r.state.badSignatures).toBe(0);
      }
      const s = worker.destinationStats();
      expect(s.hooks!.retried).toBeGreaterThan(0);
      expect(s.ce!.retried).toBeGreaterThan(0);
      expect(s.siem!.retried).toBe(0);
      expect(s.bus!.retried).toBe(0);
      expect(await storedCount(t, ids)).toBe(ids.length);
      console.log(`errors: ${ids.length} events; ${JSON.stringify(s)}`);
    } finally {
      await hooks.close();
      await ce.close();
    }
  }, 120_000);

  it("a receiver taking seconds per batch delays only itself: the others hold every event while it is still taking them", async () => {
    const hooks = await startReceiver("webhook", { secret: SECRET });
    const slow = await startReceiver("cloudevents");
    // 2.5 s a batch, ten events a batch, one at a time: a hundred events take it 25 s.
    slow.state.delayMs = 2500;
    try {
      worker = await workerOn(t, tracker.url, {
        requestTimeoutMs: 8000,
        leaseMs: 12_000,
        destinations: [
          ...beside(),
          { name: "hooks", type: "webhook", url: hooks.url, secret: SECRET },
          { name: "slow", type: "cloudevents", url: slow.url, batchSize: 10, concurrency: 1 },
        ],
      });
      const ids = await flow(20, 5);
      const all = new Set(ids);
      const fast = async () => ({
        tracker: await storedCount(t, ids),
        bus: (await nats.ids()).filter((id) => all.has(id)).length,
        hooks: [...hooks.state.taken.keys()].filter((id) => all.has(id)).length,
      });
      await waitFor(
        "the fast destinations to hold every event",
        fast,
        (f) => f.tracker === ids.length && f.bus === ids.length && f.hooks === ids.length,
      );
      await waitFor(
        "rsyslog to hold every event",
        async () => rsyslog.ids().filter((id) => all.has(id)).length,
        (n) => n === ids.length,
      );
      const slowSoFar = [...slow.state.taken.keys()].filter((id) => all.has(id)).length;
      const ledgers = await destinationLedgers(t);
      expect(slowSoFar).toBeLessThan(ids.length);
      expect(ledgers.slow!.pending).toBeGreaterThan(0);
      for (const name of ["tracker", "siem", "bus", "hooks"]) {
        expect(ledgers[name]).toEqual({ pending: 0, dead: 0 });
      }
      // The slow one gets there too, in its own time, with nothing retried.
      await expectAllDelivered(t, ["tracker", "siem", "bus", "hooks", "slow"], 120_000);
      expect(new Set(slow.state.taken.keys())).toEqual(all);
      expect(repeats(slow.state.taken)).toBe(0);
      expect(worker.destinationStats().slow!.retried).toBe(0);
      console.log(
        `slow: ${ids.length} events; when the others held all, the slow receiver had ${slowSoFar}`,
      );
    } finally {
      await hooks.close();
      await slow.close();
    }
  }, 180_000);
});
