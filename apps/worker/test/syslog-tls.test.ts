import net, { type AddressInfo } from "node:net";
import type { TestDatabase } from "@berth/db/testing";
import type { RunningTracker } from "@berth/tracker/tracker";
import { describe, expect, it } from "vitest";
import type { RunningWorker } from "../src/worker";
import { enqueue, makeEvent } from "./events";
import { trackerOn, waitFor, withDatabase, workerOn } from "./harness";
import { destinationLedgers, pendingOf } from "./ledgers";
import { makeCertificates, startRsyslog } from "./receivers";

let t: TestDatabase;
withDatabase((db) => {
  t = db;
});

/** A plain TCP listener that keeps every byte it is sent: what a wire tap would see. */
async function wireTap() {
  const received: Buffer[] = [];
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    s.on("data", (d) => received.push(d));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `tls://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => connections,
    bytes: () => Buffer.concat(received),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("syslog over TLS (RFC 5425) to a real rsyslog", () => {
  it("verifies the receiver against the configured CA: a certificate it did not sign fails and is retried, nothing goes out in clear, and the events arrive once the right certificate is served", async () => {
    const ours = makeCertificates("berth");
    const rogue = makeCertificates("rogue");
    // Serves a certificate for 127.0.0.1, but signed by a CA the destination does not trust.
    let rsyslog = await startRsyslog({ tls: rogue });
    const tap = await wireTap();
    let tracker: RunningTracker | undefined;
    let worker: RunningWorker | undefined;
    try {
      tracker = await trackerOn(t);
      worker = await workerOn(t, tracker.url, {
        destinations: [
          {
            name: "siem",
            type: "syslog",
            url: rsyslog.url,
            ca: ours.ca,
            batchSize: 20,
            // The test's backoff is short: enough attempts to outlast a slow rsyslog restart.
            maxAttempts: 1000,
          },
          // A TLS destination whose "receiver" speaks no TLS: it must only ever see a handshake.
          { name: "tapped", type: "syslog", url: tap.url, ca: ours.ca, maxAttempts: 1000 },
        ],
      });
      const events = Array.from({ length: 60 }, (_, i) =>
        makeEvent({ account: i % 2 ? "tls-a" : "tls-b" }),
      );
      const ids = events.map((e) => e.id);
      await enqueue(t.db, events);

      // Refused by the worker's verification, retried, never delivered.
      const refused = await waitFor(
        "siem retried after certificate failures",
        () => pendingOf(t, "siem"),
        (rows) => rows.length === 60 && rows.some((r) => r.attempts >= 2 && r.last_error !== null),
      );
      const error = refused.find((r) => r.last_error)!.last_error!;
      expect(error).toMatch(/certificate|self.signed|unable to (verify|get)/i);
      expect(rsyslog.ids()).toEqual([]);
      expect((await destinationLedgers(t)).siem).toEqual({ pending: 60, dead: 0 });

      await waitFor(
        "the TLS handshake attempts at the plain listener",
        async () => tap.connections(),
        (n) => n >= 2,
      );
      // A TLS client never falls back to clear text: a handshake record (0x16), no event.
      const wire = tap.bytes();
      expect(wire[0]).toBe(0x16);
      for (const id of ids) expect(wire.includes(Buffer.from(id))).toBe(false);
      expect(wire.includes(Buffer.from("berth@32473"))).toBe(false);

      // The right certificate on the same port: the retries deliver everything, in order.
      await rsyslog.stop();
      rsyslog = await startRsyslog({ port: rsyslog.port, tls: ours });
      await waitFor(
        "siem delivered over TLS",
        () => destinationLedgers(t),
        (l) => l.siem?.pending === 0 && l.tracker?.pending === 0,
        90_000,
      );
      expect((await destinationLedgers(t)).siem).toEqual({ pending: 0, dead: 0 });
      const seen = rsyslog.ids();
      expect(new Set(seen)).toEqual(new Set(ids));
      expect([...new Set(seen)]).toEqual(ids);
      expect(rsyslog.lines()[0]!.sd).toContain(`eventId="${ids[0]}"`);
      // The tapped destination is still waiting: a refused handshake is not a delivery.
      expect((await destinationLedgers(t)).tapped).toEqual({ pending: 60, dead: 0 });
    } finally {
      await worker?.stop();
      await tracker?.stop();
      await rsyslog.stop();
      await tap.close();
    }
  }, 150_000);
});
