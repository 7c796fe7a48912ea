import type { TestDatabase } from "@berth/db/testing";
import { describe, expect, it } from "vitest";
import { enqueue, twoAccountEvents } from "./events";
import { stopAll, storedCount, trackerOn, waitFor, withDatabase } from "./harness";
import { expectAllDelivered, pendingOf } from "./ledgers";
import { type Takeover, tempFile, workerAndSuccessor, workerEnv } from "./processes";
import { startNats, startRsyslog, tcpProxy } from "./receivers";

let t: TestDatabase;
withDatabase((db) => {
  t = db;
});

const metric = (text: string, name: string, destination: string) =>
  Number(new RegExp(`^${name}\\{destination="${destination}"\\} (\\d+)`, "m").exec(text)?.[1]);

describe("worker killed mid-batch to rsyslog and JetStream", () => {
  it("a restart delivers every event to each: JetStream exactly once (Nats-Msg-Id), syslog at least once with every repeat counted in berth_destination_redelivered_total", async () => {
    const rsyslog = await startRsyslog();
    const nats = await startNats();
    // Between the worker and each receiver: when held, the receiver gets everything the worker
    // sends and the worker hears nothing back (rsyslog's close, JetStream's PubAcks).
    const syslogProxy = await tcpProxy(rsyslog.port);
    const natsProxy = await tcpProxy(nats.port);
    const tracker = await trackerOn(t);
    const file = tempFile(
      "destinations.json",
      JSON.stringify([
        { name: "siem", type: "syslog", url: `tcp://127.0.0.1:${syslogProxy.port}`, batchSize: 50 },
        {
          name: "bus",
          type: "jetstream",
          url: `nats://127.0.0.1:${natsProxy.port}`,
          subject: nats.subject,
          batchSize: 50,
        },
      ]),
    );
    // A held batch must stay in flight until the kill: a long timeout, a lease above it.
    const env = workerEnv(t, tracker.url, {
      BERTH_DESTINATIONS: file,
      BERTH_WORKER_TIMEOUT_MS: "15000",
      BERTH_WORKER_LEASE_MS: "20000",
    });
    const events = twoAccountEvents(300, "kill-a", "kill-b");
    const ids = events.map((e) => e.id);
    let workers: Takeover | undefined;
    try {
      workers = await workerAndSuccessor(env);
      await enqueue(t.db, events.slice(0, 100));
      await waitFor(
        "the first 100 at both receivers",
        async () => ({ siem: rsyslog.ids().length, bus: (await nats.ids()).length }),
        (v) => v.siem === 100 && v.bus === 100,
      );
      syslogProxy.state.hold = true;
      natsProxy.state.hold = true;
      await enqueue(t.db, events.slice(100));

      // In flight: leased by the first worker, and already at the receiver.
      const inFlight = async (destination: string, received: () => Promise<string[]>) => {
        const leased = (await pendingOf(t, destination)).filter((r) => r.leased);
        const got = new Set(await received());
        return leased.length > 0 && leased.every((r) => got.has(r.id)) ? leased.length : 0;
      };
      const held = await waitFor(
        "a batch received by each receiver and not acknowledged",
        async () => ({
          siem: await inFlight("siem", async () => rsyslog.ids()),
          bus: await inFlight("bus", () => nats.ids()),
        }),
        (v) => v.siem > 0 && v.bus > 0,
      );
      workers.first.killGroup();
      expect(await workers.first.exited).toBeNull();
      syslogProxy.state.hold = false;
      natsProxy.state.hold = false;

      const second = workers.restart();
      const [, url] = await second.line(/^worker +(http:\/\/\S+)\/metrics/m);
      await expectAllDelivered(t, ["tracker", "siem", "bus"], 120_000);
      expect(await storedCount(t, ids)).toBe(ids.length);

      // JetStream: the held batch was published again and dropped by the stream's dedupe.
      expect(await nats.ids()).toEqual(ids);
      // Syslog: everything, first occurrences in order; the held batch twice, and exactly
      // those repeats counted by the new worker.
      const seen = rsyslog.ids();
      expect(new Set(seen)).toEqual(new Set(ids));
      expect([...new Set(seen)]).toEqual(ids);
      const duplicates = seen.length - ids.length;
      expect(duplicates).toBe(held.siem);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metric(metrics, "berth_destination_redelivered_total", "siem")).toBe(duplicates);
      expect(metric(metrics, "berth_destination_redelivered_total", "bus")).toBe(held.bus);
      console.log(
        `kill mid-batch: ${ids.length} events; syslog ${seen.length} lines, ${duplicates} repeated, ` +
          `${duplicates} counted as redelivered; JetStream ${ids.length} messages, ` +
          `${held.bus} published again and deduplicated`,
      );
    } finally {
      await stopAll(workers, tracker, syslogProxy, natsProxy, rsyslog, nats);
    }
  }, 240_000);
});
