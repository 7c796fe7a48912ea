/**
 * Each destination's receiver down in turn under a steady flow of events, then back
 * (`pnpm fault:destinations`): rsyslog stopped (SIGTERM) and nats-server killed (-9), each restarted, the webhook and
 * CloudEvents receivers refusing connections. Per destination: every event arrives (0 lost),
 * no duplicates where the destination dedupes, and while one is down the others keep up.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventAccount, eventRegion } from "@berth/core";
import { createDb, enqueueEvents } from "@berth/db";
import { makeEvent } from "@berth/tracker-client/testing";
import { deliveryLedger, installLedger } from "../ledger";
import {
  freshDatabase,
  type ServiceProcess,
  sleep,
  startPostgres,
  startTrackerProcess,
  startWorkerProcess,
  until,
} from "../processes";
import { parseMetrics } from "../prometheus";
import { repeats, startReceiver } from "./destination-http-receivers";
import { startNats, startRsyslog } from "./destination-receivers";
import type { Log } from "./setup";

/** The destinations of the run, by the name the worker knows them by. */
export const OUTAGE_DESTINATIONS = ["siem", "bus", "hooks", "ce"] as const;
export type OutageDestination = (typeof OUTAGE_DESTINATIONS)[number];
/** The tracker is a destination too (never down here): it must keep up like the others. */
type Observed = OutageDestination | "tracker";

const SECRET = `whsec_${Buffer.from("berth-destination-outage-secret").toString("base64")}`;

export interface DestinationOutageOptions {
  /** How long each receiver stays down (one after the other). */
  downMs: number;
  /** Events enqueued per second, the whole run. */
  ratePerSecond: number;
  /** Load before the first outage, between two, and after the last. */
  gapMs?: number;
  /** A Postgres server to make the run's database on (else an embedded one). */
  adminDatabaseUrl?: string;
  /** Extra worker environment (e.g. a shorter retry cap). */
  workerEnv?: Record<string, string>;
  /** How long everything may take to arrive once the load has stopped. */
  drainTimeoutMs?: number;
  log?: Log;
}

export interface DestinationResult {
  /** Events enqueued (every one matches every destination). */
  enqueued: number;
  /** Distinct events the receiver holds. */
  received: number;
  lost: number;
  /** Copies beyond one that the receiver kept (syslog cannot dedupe; the others must be 0). */
  duplicates: number;
  /** Requests repeated for events already taken (deduplicated by the receiver's id). */
  repeats: number;
  /** berth_destination_redelivered_total: events sent again after an earlier attempt. */
  redelivered: number;
}

/** One receiver's outage: its lag and backlog, and the highest of every other destination. */
export interface OutageWindow {
  down: OutageDestination;
  maxLagSeconds: number;
  maxPending: number;
  /** Seconds from its return until its lag was back under 2 s. */
  recoverySeconds: number;
  others: Record<string, { maxLagSeconds: number; maxPending: number }>;
}

export interface OutageSample {
  t: number;
  down: OutageDestination | undefined;
  pending: Record<Observed, number>;
  lag: Record<Observed, number>;
}

export interface DestinationOutageReport {
  events: number;
  results: Record<Observed, DestinationResult>;
  outages: OutageWindow[];
  samples: OutageSample[];
  /** Seconds from the end of the load until every destination held every event. */
  drainSeconds: number;
}

/** A labelled gauge or counter of a Prometheus page: value per label value. */
function byLabel(text: string, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  const re = new RegExp(`^${name}\\{[^}]*${label}="([^"]+)"[^}]*\\} (\\S+)$`, "gm");
  for (const m of text.matchAll(re)) out[m[1]!] = Number(m[2]);
  return out;
}

/**
 * The run: the tracker, a worker process delivering to four real receivers (rsyslog,
 * nats-server with JetStream, a Standard Webhooks receiver, a CloudEvents receiver), events
 * enqueued at a steady rate, each receiver down for `downMs` in turn with `gapMs` between.
 */
export async function destinationOutage(
  opts: DestinationOutageOptions,
): Promise<DestinationOutageReport> {
  const log = opts.log ?? (() => {});
  const gapMs = opts.gapMs ?? 5000;
  const dir = mkdtempSync(join(tmpdir(), "berth-dest-outage-"));
  const pg = opts.adminDatabaseUrl ? undefined : await startPostgres();
  const fresh = opts.adminDatabaseUrl ? await freshDatabase(opts.adminDatabaseUrl) : undefined;
  const url = (pg?.url ?? fresh?.url)!;
  const { db, sql } = createDb(url, { max: 3 });
  const rsyslog = await startRsyslog();
  const nats = await startNats();
  const hooks = await startReceiver("webhook", { secret: SECRET });
  const ce = await startReceiver("cloudevents");
  const running: ServiceProcess[] = [];
  let sampler: NodeJS.Timeout | undefined;
  try {
    await installLedger(sql);
    const tracker = await startTrackerProcess({ databaseUrl: url });
    running.push(tracker);
    const file = join(dir, "destinations.json");
    writeFileSync(
      file,
      JSON.stringify([
        { name: "siem", type: "syslog", url: rsyslog.url },
        { name: "bus", type: "jetstream", url: nats.url, subject: nats.subject },
        { name: "hooks", type: "webhook", url: hooks.url, secret: SECRET },
        { name: "ce", type: "cloudevents", url: ce.url },
      ]),
    );
    const worker = await startWorkerProcess({
      databaseUrl: url,
      trackerUrl: tracker.url,
      env: { BERTH_DESTINATIONS: file, BERTH_WORKER_POLL_MS: "500", ...opts.workerEnv },
    });
    running.push(worker);

    const outages: Record<OutageDestination, { down(): Promise<void>; up(): Promise<void> }> = {
      siem: { down: rsyslog.shutdown, up: rsyslog.start },
      bus: { down: nats.kill, up: nats.start },
      hooks: { down: hooks.down, up: hooks.up },
      ce: { down: ce.down, up: ce.up },
    };

    // The steady flow: on every tick, as many events as the rate owes since the start.
    const ids: string[] = [];
    const started = performance.now();
    let flowing = true;
    const flow = (async () => {
      while (flowing) {
        const owed = Math.floor(((performance.now() - started) / 1000) * opts.ratePerSecond);
        const batch = Array.from({ length: Math.max(0, owed - ids.length) }, (_, i) =>
          makeEvent({ account: `acct${(ids.length + i) % 3}` }),
        );
        if (batch.length > 0) {
          await enqueueEvents(
            db,
            batch.map((event) => ({
              event,
              accountId: eventAccount(event),
              region: eventRegion(event),
            })),
          );
          ids.push(...batch.map((e) => e.id));
        }
        await sleep(100);
      }
    })();

    let down: OutageDestination | undefined;
    const samples: OutageSample[] = [];
    const sample = async () => {
      try {
        const text = await (
          await fetch(`${worker.url}/metrics`, { signal: AbortSignal.timeout(5000) })
        ).text();
        const m = parseMetrics(text);
        // A figure of each destination's and, beside them, the tracker's (the outbox's).
        const perDestination = (metric: string, tracker: number | undefined) => ({
          ...(byLabel(text, metric, "destination") as Record<OutageDestination, number>),
          tracker: tracker ?? 0,
        });
        samples.push({
          t: (performance.now() - started) / 1000,
          down,
          pending: perDestination("berth_destination_pending", m.berth_outbox_pending),
          lag: perDestination(
            "berth_destination_lag_seconds",
            m.berth_outbox_oldest_pending_age_seconds,
          ),
        });
      } catch {
        // a missed sample
      }
    };
    let inFlight: Promise<void> = Promise.resolve();
    sampler = setInterval(() => {
      inFlight = sample();
    }, 1000);

    const lagOf = async (name: OutageDestination) => {
      const text = await (
        await fetch(`${worker.url}/metrics`, { signal: AbortSignal.timeout(5000) })
      ).text();
      return byLabel(text, "berth_destination_lag_seconds", "destination")[name];
    };
    const recovery: Partial<Record<OutageDestination, number>> = {};
    await sleep(gapMs);
    for (const name of OUTAGE_DESTINATIONS) {
      log(`${name} down for ${opts.downMs / 1000} s at ${opts.ratePerSecond} events/s`);
      await outages[name].down();
      down = name;
      await sleep(opts.downMs);
      await outages[name].up();
      const back = performance.now();
      // Its backlog drains before the next outage, so that one's figures are not this one's.
      await until(
        `${name} to catch up after its outage`,
        async () => ((await lagOf(name).catch(() => undefined)) ?? 99) < 2 || undefined,
        opts.drainTimeoutMs ?? 10 * 60_000,
        500,
      );
      down = undefined;
      recovery[name] = (performance.now() - back) / 1000;
      log(`${name} back, caught up in ${recovery[name]!.toFixed(1)} s`);
      await sleep(gapMs);
    }
    flowing = false;
    await flow;
    const loadEnded = performance.now();
    log(`load done: ${ids.length} events; waiting for every destination to hold every one`);

    const all = new Set(ids);
    const heldBy = async (): Promise<Record<Observed, Set<string>>> => ({
      siem: new Set(rsyslog.ids()),
      bus: new Set(await nats.ids()),
      hooks: new Set(hooks.state.taken.keys()),
      ce: new Set(ce.state.taken.keys()),
      tracker: new Set(
        (await sql<{ id: string }[]>`select id::text from tracker.events`).map((r) => r.id),
      ),
    });
    const missingOf = (h: Record<Observed, Set<string>>) =>
      Object.entries(h)
        .map(([name, s]) => [name, [...all].filter((id) => !s.has(id)).length] as const)
        .filter(([, n]) => n > 0);
    try {
      await until(
        "every destination to hold every event",
        async () => (missingOf(await heldBy()).length === 0 ? true : undefined),
        opts.drainTimeoutMs ?? 10 * 60_000,
        1000,
      );
    } catch (error) {
      // Name who is missing what, and what the worker's ledgers say of it.
      const missing = missingOf(await heldBy()).map(([n, c]) => `${n} lacks ${c}`);
      const ledger = await deliveryLedger(sql).catch(() => undefined);
      // The destinations' own ledgers: whether a missing event is pending, dead or taken for sent.
      const destinations = await sql<
        { destination: string; status: string; n: number; reason: string | null }[]
      >`
        select destination, status, count(*)::int as n, min(last_error) as reason
        from deliveries group by 1, 2 order by 1, 2`
        .then((rows) =>
          rows
            .map(
              (r) =>
                `${r.destination} ${r.status} ${r.n}${r.status === "dead" ? ` (${r.reason})` : ""}`,
            )
            .join(", "),
        )
        .catch((e: Error) => `unreadable: ${e.message}`);
      throw new Error(
        `${(error as Error).message}: ${missing.join(", ")} of ${all.size}; ledger ${JSON.stringify(ledger)}; destinations' ledgers: ${destinations}`,
      );
    }
    const drainSeconds = (performance.now() - loadEnded) / 1000;
    clearInterval(sampler);
    await inFlight;
    await sample();

    const metrics = await (await fetch(`${worker.url}/metrics`)).text();
    const redelivered = byLabel(metrics, "berth_destination_redelivered_total", "destination");
    const ledger = await deliveryLedger(sql);
    const held = await heldBy();
    const syslogLines = rsyslog.ids();
    const streamIds = await nats.ids();
    const copies: Record<Observed, number> = {
      siem: syslogLines.length - held.siem.size,
      bus: streamIds.length - held.bus.size,
      hooks: 0,
      ce: 0,
      tracker: ledger.duplicated,
    };
    const results = {} as Record<Observed, DestinationResult>;
    for (const name of [...OUTAGE_DESTINATIONS, "tracker"] as Observed[]) {
      results[name] = {
        enqueued: ids.length,
        received: [...held[name]].filter((id) => all.has(id)).length,
        lost: ids.filter((id) => !held[name].has(id)).length,
        duplicates: copies[name],
        repeats:
          name === "hooks"
            ? repeats(hooks.state.taken)
            : name === "ce"
              ? repeats(ce.state.taken)
              : 0,
        redelivered: redelivered[name] ?? 0,
      };
    }
    const windows = OUTAGE_DESTINATIONS.map((name): OutageWindow => {
      const during = samples.filter((s) => s.down === name);
      const max = (who: Observed, k: "pending" | "lag") =>
        Math.max(0, ...during.map((s) => s[k][who] ?? 0));
      return {
        down: name,
        maxLagSeconds: max(name, "lag"),
        maxPending: max(name, "pending"),
        recoverySeconds: recovery[name] ?? Number.NaN,
        others: Object.fromEntries(
          ([...OUTAGE_DESTINATIONS, "tracker"] as Observed[])
            .filter((o) => o !== name)
            .map((o) => [o, { maxLagSeconds: max(o, "lag"), maxPending: max(o, "pending") }]),
        ),
      };
    });
    return { events: ids.length, results, outages: windows, samples, drainSeconds };
  } finally {
    if (sampler) clearInterval(sampler);
    await Promise.all(running.map((p) => p.stop()));
    await sql.end({ timeout: 5 });
    await rsyslog.stop();
    await nats.stop();
    await hooks.close();
    await ce.close();
    await pg?.destroy();
    await fresh?.drop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The promises of the run, each broken one as a sentence (none: the run passed). */
export function brokenPromises(r: DestinationOutageReport): string[] {
  const broken: string[] = [];
  for (const [name, x] of Object.entries(r.results)) {
    if (x.lost > 0) broken.push(`${name}: ${x.lost} of ${x.enqueued} events lost`);
    if (name !== "siem" && x.duplicates > 0) {
      broken.push(`${name}: ${x.duplicates} duplicates at a destination that dedupes`);
    }
    if (name === "siem" && x.redelivered < x.duplicates) {
      broken.push(`siem: ${x.duplicates} duplicates but ${x.redelivered} counted as redelivered`);
    }
  }
  for (const w of r.outages) {
    if (!(w.maxPending > 0)) broken.push(`${w.down}: no backlog while it was down`);
    // The others kept up: under half the down one's lag and backlog. Relative, so that a busy
    // machine cannot fail it, while a destination held up by the down one would grow in step.
    for (const [other, o] of Object.entries(w.others)) {
      if (o.maxLagSeconds >= w.maxLagSeconds / 2 || o.maxPending >= w.maxPending / 2) {
        broken.push(
          `${other} fell behind while ${w.down} was down: lag ${o.maxLagSeconds.toFixed(1)} s, backlog ${o.maxPending} (${w.down}: ${w.maxLagSeconds.toFixed(1)} s, ${w.maxPending})`,
        );
      }
    }
  }
  return broken;
}
