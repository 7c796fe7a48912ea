/**
 * Postgres stopped and started under load (`pnpm fault:postgres`; the test runs it shortened).
 * Like every scenario in this folder: real processes on loopback, the fault injected under
 * load, the product's promises checked, its figures returned.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb } from "@berth/db";
import { accountEvents, type EventAccounting } from "../accounting";
import { checkInvariants, type InvariantReport } from "../invariants";
import { type DeliveryLedger, drainedLedger, installLedger } from "../ledger";
import { basic } from "../oci";
import {
  freshDatabase,
  type ServiceProcess,
  startPostgres,
  startServerProcess,
  startTrackerProcess,
  startWorkerProcess,
  until,
} from "../processes";
import { type OpSummary, Workload } from "../workload";
import { type Log, leaksIn, type Setup, setupAccounts } from "./setup";

const SYSTEM_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/test";

function pgCluster(action: "start" | "stop"): void {
  const version = execFileSync("ls", ["/etc/postgresql"], { encoding: "utf8" })
    .trim()
    .split("\n")[0]!;
  execFileSync("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", action], {
    stdio: "ignore",
    timeout: 120_000,
  });
}

export interface PostgresOutageOptions {
  /** The system Postgres 15 (pg_ctlcluster) instead of an embedded one in a temp dir. */
  system?: boolean;
  /** How long Postgres stays down. */
  downMs: number;
  concurrency?: number;
  /** Extra worker environment (a shorter retry cap for tests). */
  workerEnv?: Record<string, string>;
  /** How long delivery may take to catch up once Postgres is back. */
  drainTimeoutMs?: number;
  log?: Log;
}

export interface Probe {
  what: string;
  /** How long the answer took. */
  ms: number;
  status: number;
  body: string;
  retryAfter: string | null;
}

export interface PostgresOutageReport {
  probes: Probe[];
  /** Requests during the outage and how they were answered. */
  duringOutage: Record<string, number>;
  /** ms from Postgres being back until the server answered /readyz 200 by itself. */
  recoveryMs: number;
  requests: number;
  acknowledged: number;
  operations: Record<string, OpSummary>;
  events: EventAccounting;
  invariants: InvariantReport;
  leaks: string[];
  /** Every id the outbox received against the tracker, once delivery caught up. */
  ledger: DeliveryLedger;
  /** From the end of the load until the tracker held every event. */
  drainMs: number;
}

/**
 * Postgres stopped and started under load: while it is down the server answers 503 with a
 * clear message on /readyz, /trpc and /v2 (probed with a valid API key and a valid bearer
 * token); once it is back the server recovers by itself (no restart), nothing acknowledged
 * is lost, and the worker and tracker, down with it, deliver every event.
 */
export async function postgresOutage(opts: PostgresOutageOptions): Promise<PostgresOutageReport> {
  const log = opts.log ?? (() => {});
  const prefix = `pg${Date.now().toString(36)}`;
  const pg = opts.system ? undefined : await startPostgres();
  const system = opts.system ? await freshDatabase(SYSTEM_ADMIN_URL) : undefined;
  const databaseUrl = pg?.url ?? system!.url;
  const dataDir = mkdtempSync(join(tmpdir(), "berth-fault-data-"));
  let server: ServiceProcess | undefined;
  let setup: Setup | undefined;
  let stopped = false;
  const delivery: ServiceProcess[] = [];
  try {
    // The worker and the tracker live through the outage too: what was committed before and
    // after it must all reach the tracker.
    const { sql: ledgerSql } = createDb(databaseUrl, { max: 1 });
    await installLedger(ledgerSql);
    await ledgerSql.end();
    const tracker = await startTrackerProcess({ databaseUrl });
    delivery.push(tracker);
    delivery.push(
      await startWorkerProcess({
        databaseUrl,
        trackerUrl: tracker.url,
        ...(opts.workerEnv ? { env: opts.workerEnv } : {}),
      }),
    );
    server = await startServerProcess({ databaseUrl, dataDir });
    const base = server.url;
    setup = await setupAccounts(databaseUrl, base, prefix);
    const actor = setup.actors[0]!;
    const tokenRes = await fetch(`${base}/token?scope=repository:${actor.namespace}/app0:pull`, {
      headers: { authorization: basic("iamapikey", actor.apiKey) },
    });
    const bearer = ((await tokenRes.json()) as { token: string }).token;
    const workload = new Workload({ base, actors: setup.actors, prefix });
    const running = workload.run({
      concurrency: opts.concurrency ?? 4,
      durationMs: opts.downMs + 300_000,
      maxOps: 100_000,
    });
    const okCount = () => workload.records.filter((r) => r.ok).length;
    await until("requests served before the outage", () => (okCount() >= 40 ? true : undefined));

    log(`stopping ${opts.system ? "the system Postgres" : "the embedded Postgres"}`);
    const downAt = workload.records.length;
    stopped = true;
    if (pg) await pg.stop();
    else pgCluster("stop");
    log("Postgres stopped");
    const ready = () => fetch(`${base}/readyz`).then((r) => r.status);
    await until("/readyz to answer 503", async () => ((await ready()) === 503 ? true : undefined));
    log("/readyz answers 503");
    const probe = async (what: string, path: string, auth?: string): Promise<Probe> => {
      const t0 = performance.now();
      const res = await fetch(`${base}${path}`, auth ? { headers: { authorization: auth } } : {});
      return {
        what,
        ms: performance.now() - t0,
        status: res.status,
        body: await res.text(),
        retryAfter: res.headers.get("retry-after"),
      };
    };
    const probes = [
      await probe("/readyz", "/readyz"),
      await probe(
        "tRPC namespace.list (API key)",
        "/trpc/namespace.list",
        `Bearer ${actor.apiKey}`,
      ),
      await probe("/v2/ (Basic iamapikey)", "/v2/", basic("iamapikey", actor.apiKey)),
      await probe(
        "/v2 manifest GET (bearer token)",
        `/v2/${actor.namespace}/app0/manifests/latest`,
        `Bearer ${bearer}`,
      ),
      await probe("/token (Basic iamapikey)", "/token", basic("iamapikey", actor.apiKey)),
    ];
    log("probed");
    const remaining = opts.downMs - 0;
    await new Promise((r) => setTimeout(r, Math.max(0, remaining)));
    const downRecords = workload.records.slice(downAt);
    log(`starting Postgres again after ${opts.downMs} ms`);
    if (pg) await pg.start();
    else pgCluster("start");
    stopped = false;
    const backAt = performance.now();
    await until("/readyz to answer 200 again", async () =>
      (await ready().catch(() => 0)) === 200 ? true : undefined,
    );
    const recoveryMs = performance.now() - backAt;
    const before = okCount();
    await until("requests served after the outage", () =>
      okCount() >= before + 40 ? true : undefined,
    );
    workload.stop();
    await running;
    const drainStart = performance.now();
    const ledger = await drainedLedger(
      setup!.sql,
      "every event to reach the tracker",
      opts.drainTimeoutMs ?? 10 * 60_000,
    );
    const drainMs = performance.now() - drainStart;

    const duringOutage: Record<string, number> = {};
    for (const r of downRecords) duringOutage[r.status] = (duringOutage[r.status] ?? 0) + 1;
    const events = await accountEvents(setup.sql, workload.records);
    const invariants = await checkInvariants(setup.sql, join(dataDir, "blobs"));
    const hashes = await setup.sql`select key_hash from api_keys`;
    const leaks = leaksIn(server.output, [
      ...setup.actors.map((a) => a.apiKey),
      ...hashes.map((h) => h.key_hash as string),
      bearer,
    ]);
    return {
      probes,
      duringOutage,
      recoveryMs,
      requests: workload.records.length,
      acknowledged: events.acknowledged,
      operations: workload.summary(),
      events,
      invariants,
      leaks,
      ledger,
      drainMs,
    };
  } finally {
    // Whatever happened, the system Postgres is left running for everyone else.
    if (stopped && !pg) pgCluster("start");
    await setup?.close().catch(() => {});
    await server?.stop();
    await Promise.all(delivery.map((p) => p.stop()));
    await pg?.destroy();
    await system?.drop();
  }
}
