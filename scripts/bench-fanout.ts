/**
 * Fan-out benchmark (issue 17): `pnpm bench:fanout [--events N] [--runs R]`.
 *
 * Events per second the worker delivers with the tracker alone, then with the tracker +
 * syslog (a real rsyslogd) + a Standard Webhooks receiver (verifying every signature) +
 * NATS JetStream (a real nats-server), all on loopback. Each run: a fresh database, the
 * destinations registered, N events (default 20,000) enqueued as the use cases do, then a
 * worker started and timed from ready to every ledger empty. Prints every run, the median and
 * range, and the machine's load (receivers share the machine with the worker and Postgres).
 * Beside the rate, the CPU time of this process per 1,000 events (worker, in-process tracker
 * and webhook receiver; rsyslogd, nats-server and Postgres are apart): less swayed by a
 * shared machine's load than a wall-clock rate.
 * Every wait is bounded. Postgres: DATABASE_URL's server, else an embedded one for the run.
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { eventAccount, eventRegion } from "@berth/core";
import { enqueueEvents, registerDestinations } from "@berth/db";
import { createTestDatabase, setupTestServer, type TestDatabase } from "@berth/db/testing";
import { startNats, startReceiver, startRsyslog } from "@berth/harness";
import type { DestinationSpec } from "../apps/worker/src/destination-config";
import { startWorker } from "../apps/worker/src/worker";
import { makeEvent } from "../apps/worker/test/events";
import { quiet, trackerOn } from "../apps/worker/test/harness";

const { values: args } = parseArgs({
  options: {
    events: { type: "string", default: "20000" },
    runs: { type: "string", default: "1" },
  },
});
const N = Number(args.events);
const RUNS = Number(args.runs);
const SECRET = `whsec_${Buffer.from("berth-bench-webhook-secret-0123").toString("base64")}`;
const DEADLINE_MS = 15 * 60_000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (x: number) => Math.round(x).toLocaleString("en-US");

/** Pending events per ledger: the tracker's outbox and every destination's. */
async function undelivered(t: TestDatabase): Promise<Record<string, number>> {
  const rows = await t.sql<{ d: string; n: number }[]>`
    select 'tracker' as d, count(*)::int as n from outbox where status = 'pending'
    union all
    select d.name, count(dl.event_id)::int from delivery_destinations d
      left join deliveries dl on dl.destination = d.name and dl.status = 'pending'
     group by d.name`;
  return Object.fromEntries(rows.map((r) => [r.d, r.n]));
}

async function run(fanout: boolean): Promise<{ rate: number; cpuMsPer1000: number }> {
  const t = await createTestDatabase();
  const tracker = await trackerOn(t);
  const rsyslog = fanout ? await startRsyslog() : undefined;
  const nats = fanout ? await startNats() : undefined;
  const hook = fanout ? await startReceiver("webhook", { secret: SECRET }) : undefined;
  try {
    const destinations: DestinationSpec[] = fanout
      ? [
          { name: "siem", type: "syslog", url: rsyslog!.url },
          { name: "hooks", type: "webhook", url: hook!.url, secret: SECRET },
          { name: "bus", type: "jetstream", url: nats!.url, subject: nats!.subject },
        ]
      : [];
    await registerDestinations(
      t.db,
      destinations.map((d) => ({
        name: d.name,
        filter: {},
        ordered: d.type !== "webhook",
      })),
    );
    for (let i = 0; i < N; i += 1000) {
      const batch = Array.from({ length: Math.min(1000, N - i) }, () => makeEvent());
      await enqueueEvents(
        t.db,
        batch.map((event) => ({
          event,
          accountId: eventAccount(event),
          region: eventRegion(event),
        })),
      );
    }
    const worker = await startWorker({
      databaseUrl: t.url,
      trackerUrl: tracker.url,
      trackerKeys: "test-ingest",
      port: 0,
      serveMetrics: false,
      destinations,
      logger: quiet(),
    });
    const started = performance.now();
    const cpu = process.cpuUsage();
    // When each ledger emptied: the slowest destination sets the pace of the whole run.
    const drained: Record<string, string> = {};
    try {
      for (;;) {
        const left = await undelivered(t);
        const seconds = (performance.now() - started) / 1000;
        for (const [d, n] of Object.entries(left)) {
          if (n === 0 && !drained[d]) drained[d] = `${fmt(N / seconds)}/s`;
        }
        if (Object.values(left).every((n) => n === 0)) {
          console.log(`  each ledger drained at: ${JSON.stringify(drained)}`);
          const used = process.cpuUsage(cpu);
          return { rate: N / seconds, cpuMsPer1000: (used.user + used.system) / 1000 / (N / 1000) };
        }
        if (performance.now() - started > DEADLINE_MS) throw new Error("not drained in 15 min");
        await new Promise((r) => setTimeout(r, 100));
      }
    } finally {
      await worker.stop();
    }
  } finally {
    await tracker.stop();
    await rsyslog?.stop();
    await nats?.stop();
    await hook?.close();
    await t.drop();
  }
}

// The Postgres of DATABASE_URL, else an embedded one for the run (each run makes its database there).
const stopServer = await setupTestServer();
for (const [label, fanout] of [
  ["tracker alone", false],
  ["tracker + syslog + webhook + JetStream", true],
] as const) {
  const rates: number[] = [];
  const cpus: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const before = loadavg()[0]!.toFixed(1);
    const { rate, cpuMsPer1000 } = await run(fanout);
    rates.push(rate);
    cpus.push(cpuMsPer1000);
    console.log(
      `${label}: run ${i + 1}: ${fmt(rate)} events/s, ${fmt(cpuMsPer1000)} ms CPU per 1,000 events (load before ${before}, after ${loadavg()[0]!.toFixed(1)})`,
    );
  }
  console.log(
    `${label}: median ${fmt(median(rates))} events/s, range ${fmt(Math.min(...rates))}-${fmt(Math.max(...rates))}; ` +
      `CPU median ${fmt(median(cpus))} ms per 1,000 events, range ${fmt(Math.min(...cpus))}-${fmt(Math.max(...cpus))}; ${N} events per run`,
  );
}
await stopServer();
process.exit(0);
