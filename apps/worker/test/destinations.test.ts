import type { TestDatabase } from "@berth/db/testing";
import type { RunningTracker } from "@berth/tracker/tracker";
import { describe, expect, it } from "vitest";
import type { DestinationSpec } from "../src/destination-config";
import type { RunningWorker } from "../src/worker";
import { enqueue, makeEvent, twoAccountEvents } from "./events";
import { stopAll, storedCount, trackerOn, waitFor, withDatabase, workerOn } from "./harness";
import { expectAllDelivered } from "./ledgers";
import { type Takeover, tempFile, workerAndSuccessor, workerEnv } from "./processes";
import { startNats, startReceiver, startRsyslog } from "./receivers";

const SECRET = `whsec_${Buffer.from("berth-test-webhook-secret-0123456789").toString("base64")}`;

let t: TestDatabase;
withDatabase((db) => {
  t = db;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("fan-out to real receivers under faults", () => {
  it("every event reaches every destination it matches while each receiver dies, errs or crawls; 0 lost, 0 duplicates where the destination dedupes", async () => {
    const rsyslog = await startRsyslog();
    const nats = await startNats();
    const hook = await startReceiver("webhook", { secret: SECRET });
    const ce = await startReceiver("cloudevents");
    let tracker: RunningTracker | undefined;
    let worker: RunningWorker | undefined;
    try {
      tracker = await trackerOn(t);
      const destinations: DestinationSpec[] = [
        { name: "siem", type: "syslog", url: rsyslog.url },
        { name: "bus", type: "jetstream", url: nats.url, subject: nats.subject },
        { name: "hooks", type: "webhook", url: hook.url, secret: SECRET },
        {
          name: "failures",
          type: "cloudevents",
          url: ce.url,
          filter: { outcomes: ["failure"] },
        },
      ];
      worker = await workerOn(t, tracker.url, { destinations, batchSize: 50 });

      // Steady load, bounded: 20 rounds of 20 events, one round every 400 ms, while the
      // receivers misbehave one after the other.
      const events: ReturnType<typeof makeEvent>[] = [];
      for (let round = 0; round < 20; round++) {
        const batch = Array.from({ length: 20 }, (_, i) =>
          makeEvent({
            account: round % 2 ? "acct1" : "acct2",
            outcome: i % 5 === 0 ? "failure" : "success",
          }),
        );
        events.push(...batch);
        await enqueue(t.db, batch);
        if (round === 2) await rsyslog.shutdown();
        if (round === 3) await nats.kill();
        if (round === 4) hook.state.status = 503;
        if (round === 5) ce.state.status = 500;
        if (round === 8) await rsyslog.start();
        if (round === 9) await nats.start();
        if (round === 11) {
          hook.state.status = 200;
          hook.state.delayMs = 300;
        }
        if (round === 12) ce.state.status = 200;
        await sleep(400);
      }
      hook.state.delayMs = 0;
      const ids = events.map((e) => e.id);
      const failures = events.filter((e) => e.outcome === "failure").map((e) => e.id);

      await expectAllDelivered(t, ["tracker", "siem", "bus", "hooks", "failures"]);

      // Tracker: every event, deduped by id.
      expect(await storedCount(t, ids)).toBe(ids.length);
      // JetStream: every event exactly once (Nats-Msg-Id dedupe), in enqueue order.
      const inStream = await nats.ids();
      expect(inStream).toEqual(ids);
      // Webhooks: every event taken, each signature verified by the official library;
      // a receiver deduping by webhook-id sees each once.
      expect(hook.state.badSignatures).toBe(0);
      expect(new Set(hook.state.taken.keys())).toEqual(new Set(ids));
      // CloudEvents: exactly the failures (the filter), typed by action, sourced by CRN.
      expect(new Set(ce.state.taken.keys())).toEqual(new Set(failures));
      const byId = new Map(events.map((e) => [e.id, e]));
      for (const e of ce.state.events) {
        expect(e.type).toBe(byId.get(e.id)!.action);
        expect(e.source).toBe(byId.get(e.id)!.target.id);
      }
      // Syslog: every event at least once, in order (a batch resent after the receiver died
      // may repeat, which the redelivery metric counts), with its structured data.
      const lines = rsyslog.lines();
      const seen = lines.map((l) => l.event.id);
      expect(new Set(seen)).toEqual(new Set(ids));
      const firsts = [...new Set(seen)];
      expect(firsts).toEqual(ids);
      const line = lines.find((l) => l.event.id === failures[0])!;
      expect(line.app).toBe("berth");
      expect(line.sd).toBe(
        `[berth@32473 action="${byId.get(failures[0]!)!.action}" outcome="failure" account="acct2" eventId="${failures[0]}"]`,
      );
      const dup = seen.length - ids.length;
      const stats = worker.destinationStats();
      expect(stats.siem!.redelivered).toBeGreaterThanOrEqual(dup);
      const metrics = await worker.metrics();
      expect(metrics).toMatch(/berth_destination_delivered_total\{destination="siem"\} \d+/);
      expect(metrics).toMatch(/berth_destination_pending\{destination="bus"\} 0/);
      expect(metrics).toMatch(/berth_destination_pending\{destination="tracker"\} 0/);
      console.log(
        `fault run: ${ids.length} events; syslog lines ${seen.length} (${dup} repeated); ` +
          `per destination ${JSON.stringify(stats)}`,
      );
    } finally {
      await stopAll(worker, tracker, rsyslog, nats, hook, ce);
    }
  }, 180_000);

  it("loses nothing when the worker process is killed -9 mid-batch: a new worker delivers the rest to every destination", async () => {
    await t.sql`delete from deliveries`;
    await t.sql`delete from outbox`;
    const rsyslog = await startRsyslog();
    const nats = await startNats();
    const hook = await startReceiver("webhook", { secret: SECRET });
    // Slow answers keep webhook batches in flight when the worker dies.
    hook.state.delayMs = 200;
    const tracker = await trackerOn(t);
    const file = tempFile(
      "destinations.yaml",
      `- name: siem\n  type: syslog\n  url: ${rsyslog.url}\n  batchSize: 50\n` +
        `- name: bus\n  type: jetstream\n  url: ${nats.url}\n  subject: ${nats.subject}\n  batchSize: 50\n` +
        `- name: hooks\n  type: webhook\n  url: ${hook.url}\n  secret: ${SECRET}\n  batchSize: 50\n`,
    );
    const env = workerEnv(t, tracker.url, { BERTH_DESTINATIONS: file });
    const events = twoAccountEvents(600, "acct1", "acct2");
    const ids = events.map((e) => e.id);
    let workers: Takeover | undefined;
    try {
      workers = await workerAndSuccessor(env);
      await enqueue(t.db, events);
      // Every destination has taken some, and webhook requests are in flight: kill it.
      await waitFor(
        "some delivered everywhere",
        async () => ({ hooks: hook.state.taken.size, bus: (await nats.ids()).length }),
        (v) => v.hooks >= 20 && v.bus >= 50,
      );
      workers.first.child.kill("SIGKILL");
      expect(await workers.first.exited).toBeNull();
      await workers.restart().line(/^worker +http/m);
      await expectAllDelivered(t, ["tracker", "siem", "bus", "hooks"]);
      expect(await storedCount(t, ids)).toBe(ids.length);
      expect(await nats.ids()).toEqual(ids);
      expect(hook.state.badSignatures).toBe(0);
      expect(new Set(hook.state.taken.keys())).toEqual(new Set(ids));
      const seen = rsyslog.lines().map((l) => l.event.id);
      expect(new Set(seen)).toEqual(new Set(ids));
      expect([...new Set(seen)]).toEqual(ids);
      console.log(
        `worker kill -9: ${ids.length} events; syslog lines ${seen.length} (${seen.length - ids.length} repeated); ` +
          `webhook requests taken ${[...hook.state.taken.values()].reduce((a, b) => a + b, 0)} for ${ids.length} ids`,
      );
    } finally {
      await stopAll(workers, tracker, rsyslog, nats, hook);
    }
  }, 180_000);
});
