/**
 * Fault scenarios, each a function that runs real processes on loopback, injects its fault
 * under load, checks the product's promises and returns its figures. The `fault:*` scripts
 * run them with realistic settings and print the figures; the tests run shortened versions
 * and assert on the same figures.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDb, freePort, type Sql } from "../../packages/db/src/index";
import { createAccount } from "../../packages/registry/src/index";
import { checkInvariants, type InvariantReport } from "./invariants";
import { basic, HttpError, pullImage, pushImage, randomImage } from "./oci";
import {
  freshDatabase,
  type ServiceProcess,
  startPostgres,
  startServerProcess,
  startTrackerProcess,
  startWorkerProcess,
  until,
} from "./processes";
import {
  type Actor,
  accountEvents,
  type EventAccounting,
  type OpSummary,
  trpc,
  Workload,
} from "./workload";

export type Log = (line: string) => void;

export interface Setup {
  sql: Sql;
  actors: Actor[];
  close(): Promise<void>;
}

/** Accounts (each with a namespace for pushes) in a fresh database. */
export async function setupAccounts(
  databaseUrl: string,
  base: string,
  prefix: string,
  count = 2,
): Promise<Setup> {
  const { db, sql } = createDb(databaseUrl, { max: 4 });
  const actors: Actor[] = [];
  for (let i = 0; i < count; i++) {
    const created = await createAccount(db, { name: `${prefix}-${i}` });
    const namespace = `${prefix.slice(0, 20)}p${i}`.toLowerCase();
    await trpc(
      base,
      created.apiKey,
      "namespace.create",
      { name: namespace },
      `${prefix}-setup-${i}`,
    );
    actors.push({ name: created.account.id, apiKey: created.apiKey, namespace });
  }
  return { sql, actors, close: () => sql.end({ timeout: 5 }) };
}

/** Scan process output for things that must never be there. */
export function leaksIn(output: string[], secrets: string[]): string[] {
  const text = output.join("\n");
  const found: string[] = [];
  for (const s of secrets) if (s && text.includes(s)) found.push(`${s.slice(0, 12)}…`);
  if (/params: (?!\[redacted\])/.test(text)) found.push("query parameters (params: ...)");
  return found;
}

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
    const ledger = await until(
      "every event to reach the tracker",
      async () => {
        const l = await deliveryLedger(setup!.sql);
        return l.pending === 0 && l.lost === 0 ? l : undefined;
      },
      opts.drainTimeoutMs ?? 10 * 60_000,
      500,
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

export interface KillServerOptions {
  /** Times the server is killed with SIGKILL mid-load. */
  kills: number;
  /** Operations acknowledged between one start and the next kill (at least). */
  opsBetweenKills?: number;
  concurrency?: number;
  /** Layer sizes of pushes; large ones make kills land inside uploads. */
  layerBytes?: [number, number];
  log?: Log;
}

export interface KillServerReport {
  kills: number;
  /** Operations in flight when a kill landed (cut without an answer). */
  cut: number;
  /** Operations refused (connection refused) while the server was restarting. */
  refusedWhileDown: number;
  requests: number;
  acknowledged: number;
  operations: Record<string, OpSummary>;
  /** Pulls that got bytes not matching their digest. */
  corrupt: number;
  /** Pulls of acknowledged images that the registry no longer knew. */
  lostImages: number;
  events: EventAccounting;
  invariants: InvariantReport;
  /** Upload files left by cut uploads (garbage collection removes them later). */
  leftoverUploads: number;
}

/**
 * kill -9 of the server during pushes and management calls, `kills` times, restarting it
 * each time on the same port and data; the load keeps going across the restarts. Then:
 * nothing served is corrupt, no acknowledged image is gone, every acknowledged audited
 * request has its one event, and the invariants hold (no half-written state).
 */
export async function killServer(opts: KillServerOptions): Promise<KillServerReport> {
  const log = opts.log ?? (() => {});
  const prefix = `k${Date.now().toString(36)}`;
  const pg = await startPostgres();
  const dataDir = mkdtempSync(join(tmpdir(), "berth-fault-data-"));
  let server: ServiceProcess | undefined;
  let setup: Setup | undefined;
  try {
    server = await startServerProcess({ databaseUrl: pg.url, dataDir, logLevel: "warn" });
    const base = server.url;
    const port = Number(new URL(base).port);
    setup = await setupAccounts(pg.url, base, prefix);
    const workload = new Workload({
      base,
      actors: setup.actors,
      prefix,
      layerBytes: opts.layerBytes ?? [1024, 2 * 1024 * 1024],
      backoffMs: 100,
    });
    const running = workload.run({
      concurrency: opts.concurrency ?? 6,
      durationMs: 30 * 60_000,
      maxOps: 1_000_000,
    });
    const okCount = () => workload.records.filter((r) => r.ok).length;
    const killTimes: number[] = [];
    for (let k = 1; k <= opts.kills; k++) {
      const target = okCount() + (opts.opsBetweenKills ?? 30);
      await until(
        "acknowledged operations before the kill",
        () => (okCount() >= target ? true : undefined),
        300_000,
      );
      // Land the kill at a random point of whatever is in flight.
      await new Promise((r) => setTimeout(r, Math.random() * 300));
      const killedAt = workload.elapsed();
      await server.kill9();
      killTimes.push(killedAt);
      log(`kill ${k}: SIGKILL after ${okCount()} acknowledged operations`);
      server = await startServerProcess({
        databaseUrl: pg.url,
        dataDir,
        port,
        logLevel: "warn",
      });
    }
    const target = okCount() + (opts.opsBetweenKills ?? 30);
    await until(
      "operations after the last restart",
      () => (okCount() >= target ? true : undefined),
      300_000,
    );
    workload.stop();
    await running;
    await server.stop();

    const events = await accountEvents(setup.sql, workload.records);
    const invariants = await checkInvariants(setup.sql, join(dataDir, "blobs"));
    const leftover = await countFiles(join(dataDir, "blobs", "uploads"));
    // In flight at a kill: started before it, ended after it without an answer.
    const cut = workload.records.filter(
      (r) => r.status === 0 && killTimes.some((t) => r.at <= t && r.at + r.ms >= t),
    ).length;
    return {
      kills: opts.kills,
      cut,
      refusedWhileDown: workload.records.filter((r) => r.status === 0).length - cut,
      requests: workload.records.length,
      acknowledged: events.acknowledged,
      operations: workload.summary(),
      corrupt: workload.records.filter((r) => r.status === -1).length,
      lostImages: workload.records.filter((r) => r.op === "pull" && r.status === 404).length,
      events,
      invariants,
      leftoverUploads: leftover,
    };
  } finally {
    await setup?.close().catch(() => {});
    await server?.stop();
    await pg.destroy();
  }
}

async function countFiles(dir: string): Promise<number> {
  const { readdir } = await import("node:fs/promises");
  try {
    return (await readdir(dir)).length;
  } catch {
    return 0;
  }
}

/** Every id ever inserted into the outbox, kept by a trigger of the fault run (not of the app). */
export async function installLedger(sql: Sql): Promise<void> {
  await sql.unsafe(`
    create table if not exists fault_ledger (id uuid primary key, at timestamptz not null default now());
    create or replace function fault_ledger_add() returns trigger language plpgsql as $$
      begin insert into fault_ledger (id) values (new.id) on conflict do nothing; return new; end $$;
    drop trigger if exists fault_ledger on outbox;
    create trigger fault_ledger after insert on outbox for each row execute function fault_ledger_add();`);
}

export interface DeliveryLedger {
  /** Events the outbox received. */
  enqueued: number;
  /** Events the tracker holds. */
  stored: number;
  /** Enqueued events the tracker does not hold. */
  lost: number;
  /** Tracker rows beyond one per event id (the id is the key: must be 0). */
  duplicated: number;
  /** Tracker events that never went through the outbox. */
  unknown: number;
  /** Outbox rows still pending or dead. */
  pending: number;
  dead: number;
}

export async function deliveryLedger(sql: Sql): Promise<DeliveryLedger> {
  const [row] = (await sql`
    select (select count(*) from fault_ledger)::int as enqueued,
           (select count(*) from tracker.events)::int as stored,
           (select count(*) - count(distinct id) from tracker.events)::int as duplicated,
           (select count(*) from fault_ledger l
              where not exists (select 1 from tracker.events e where e.id = l.id))::int as lost,
           (select count(*) from tracker.events e
              where not exists (select 1 from fault_ledger l where l.id = e.id))::int as unknown,
           (select count(*) from outbox where status = 'pending')::int as pending,
           (select count(*) from outbox where status = 'dead')::int as dead`) as unknown as [
    DeliveryLedger,
  ];
  return row;
}

/** Values of unlabelled gauges and summed counters from a Prometheus text page. */
export function parseMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[3]);
  }
  return out;
}

export interface LagSample {
  /** Seconds since the load started. */
  t: number;
  phase: "before" | "down" | "after";
  pending: number;
  lagSeconds: number;
}

export interface TrackerOutageOptions {
  /** How long the tracker stays down. */
  downMs: number;
  /** Steady load: operations started per second. */
  ratePerSecond: number;
  /** Load before the outage and after it. */
  beforeMs?: number;
  afterMs?: number;
  /** Extra worker environment (e.g. a shorter retry cap for tests). */
  workerEnv?: Record<string, string>;
  /** How long the backlog may take to drain once the tracker is back. */
  drainTimeoutMs?: number;
  log?: Log;
}

export interface TrackerOutageReport {
  ledger: DeliveryLedger;
  samples: LagSample[];
  maxLagSeconds: number;
  maxPending: number;
  lagAtEnd: number;
  /** From the tracker's restart until the outbox was empty and the tracker held everything. */
  drainMs: number;
  requests: number;
  acknowledged: number;
  operations: Record<string, OpSummary>;
  events: EventAccounting;
  worker: Record<string, number>;
}

/**
 * The tracker endpoint down for a while under steady load, then back: the worker retries
 * with backoff, the backlog drains by itself, every event the outbox received is in the
 * tracker exactly once, and the lag metric rises during the outage and falls after it.
 */
export async function trackerOutage(opts: TrackerOutageOptions): Promise<TrackerOutageReport> {
  const log = opts.log ?? (() => {});
  const prefix = `t${Date.now().toString(36)}`;
  const pg = await startPostgres();
  const dataDir = mkdtempSync(join(tmpdir(), "berth-fault-data-"));
  const running: ServiceProcess[] = [];
  let setup: Setup | undefined;
  let sampler: NodeJS.Timeout | undefined;
  try {
    const { sql } = createDb(pg.url, { max: 2 });
    await installLedger(sql);
    await sql.end();
    const trackerPort = await freePort();
    let tracker = await startTrackerProcess({ databaseUrl: pg.url, port: trackerPort });
    running.push(tracker);
    const worker = await startWorkerProcess({
      databaseUrl: pg.url,
      trackerUrl: tracker.url,
      ...(opts.workerEnv ? { env: opts.workerEnv } : {}),
    });
    const server = await startServerProcess({ databaseUrl: pg.url, dataDir, logLevel: "warn" });
    running.push(worker, server);
    setup = await setupAccounts(pg.url, server.url, prefix);
    const workload = new Workload({ base: server.url, actors: setup.actors, prefix });
    const beforeMs = opts.beforeMs ?? 10_000;
    const afterMs = opts.afterMs ?? 10_000;
    const loadMs = beforeMs + opts.downMs + afterMs;
    const load = workload.run({
      concurrency: 16,
      durationMs: loadMs,
      maxOps: Math.ceil((loadMs / 1000) * opts.ratePerSecond) + 100,
      ratePerSecond: opts.ratePerSecond,
    });
    const samples: LagSample[] = [];
    let phase: LagSample["phase"] = "before";
    const sample = async () => {
      try {
        const res = await fetch(`${worker.url}/metrics`, { signal: AbortSignal.timeout(5000) });
        const m = parseMetrics(await res.text());
        samples.push({
          t: workload.elapsed() / 1000,
          phase,
          pending: m.berth_outbox_pending ?? 0,
          lagSeconds: m.berth_outbox_oldest_pending_age_seconds ?? 0,
        });
      } catch {
        // a missed sample
      }
    };
    sampler = setInterval(() => void sample(), 1000);
    await new Promise((r) => setTimeout(r, beforeMs));
    log(`tracker down (SIGKILL) for ${opts.downMs / 1000} s at ${opts.ratePerSecond} operations/s`);
    phase = "down";
    await tracker.kill9();
    await new Promise((r) => setTimeout(r, opts.downMs));
    tracker = await startTrackerProcess({ databaseUrl: pg.url, port: trackerPort });
    running.push(tracker);
    phase = "after";
    const backAt = performance.now();
    log("tracker back");
    await load;
    log(`load done: ${workload.records.length} operations; waiting for the backlog to drain`);
    const ledger = await until(
      "the backlog to drain into the tracker",
      async () => {
        const l = await deliveryLedger(setup!.sql);
        return l.pending === 0 && l.lost === 0 ? l : undefined;
      },
      opts.drainTimeoutMs ?? 15 * 60_000,
      500,
    );
    const drainMs = performance.now() - backAt;
    await sample();
    clearInterval(sampler);
    const worker_ = parseMetrics(await (await fetch(`${worker.url}/metrics`)).text());
    const events = await accountEvents(setup.sql, workload.records);
    const down = samples.filter((s) => s.phase !== "before");
    return {
      ledger,
      samples,
      maxLagSeconds: Math.max(0, ...down.map((s) => s.lagSeconds)),
      maxPending: Math.max(0, ...down.map((s) => s.pending)),
      lagAtEnd: samples.at(-1)?.lagSeconds ?? Number.NaN,
      drainMs,
      requests: workload.records.length,
      acknowledged: events.acknowledged,
      operations: workload.summary(),
      events,
      worker: {
        delivered: worker_.berth_delivery_delivered_total ?? 0,
        retried: worker_.berth_delivery_retried_total ?? 0,
        deadLettered: worker_.berth_delivery_dead_lettered_total ?? 0,
      },
    };
  } finally {
    if (sampler) clearInterval(sampler);
    await setup?.close().catch(() => {});
    await Promise.all(running.map((p) => p.stop()));
    await pg.destroy();
  }
}

/** Mount a tmpfs of `mb` MB at `dir` (root only); false when this machine does not allow it. */
export function mountTmpfs(dir: string, mb: number): boolean {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${mb}m`, "tmpfs", dir], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function remount(dir: string, mode: "ro" | "rw"): void {
  execFileSync("mount", ["-o", `remount,${mode}`, dir], { stdio: "ignore" });
}

function unmount(dir: string): void {
  try {
    execFileSync("umount", ["-l", dir], { stdio: "ignore" });
  } catch {
    // not mounted
  }
}

export interface Answer {
  what: string;
  status: number;
  body: string;
  /** The Range header of an upload status. */
  range?: string;
}

export interface DiskFaultsReport {
  /**
   * "tmpfs": the store on a real 5 MB filesystem, remounted read-only for the second part;
   * "simulated": a store whose upload area refuses writes past a cap with ENOSPC and, when
   * read-only, with EROFS (for machines that cannot mount).
   */
  mode: "tmpfs" | "simulated";
  capacityMb: number;
  /** Pushes before the store filled up (201 each). */
  pushedBeforeFull: number;
  /** How the push that did not fit was answered, and the chunked upload that did not fit. */
  full: Answer[];
  /** Bytes of the upload area after the failed uploads (their partial bytes given back). */
  uploadBytesAfterFull: number;
  readOnly: Answer[];
  /** A pull of an image stored before, while the store is read-only. */
  pullWhileReadOnly: number;
  /** A push once the store is writable again. */
  pushAfterRecovery: number;
  invariantsAfterFull: InvariantReport;
  invariantsAfterReadOnly: InvariantReport;
  /** Failure events written (a refused upload start is an image.push attempt). */
  events: { action: string; outcome: string; reasonCode: number; reason: string }[];
}

/** A server whose blob store can be made full and read-only. */
export interface DiskEnv {
  mode: DiskFaultsReport["mode"];
  capacityMb: number;
  base: string;
  sql: Sql;
  actor: Actor;
  /** The FsBlobStore root (`<data dir>/blobs`). */
  blobsDir: string;
  readOnly(on: boolean): Promise<void> | void;
}

/**
 * Disk errors of the blob store: pushes until one does not fit (ENOSPC), then the store
 * read-only (EROFS). Each failing push must be answered with a clear error, leave nothing
 * referenced that is not stored (invariants), and give back the space of what it wrote;
 * reads keep working while the store is read-only, and pushes work again once it is
 * writable.
 */
export async function runDiskFaults(env: DiskEnv, prefix: string): Promise<DiskFaultsReport> {
  const { base, actor } = env;
  const auth = basic("iamapikey", actor.apiKey);
  const repo = `${actor.namespace}/disk`;
  const answer = async (what: string, res: Response): Promise<Answer> => ({
    what,
    status: res.status,
    body: await res.text(),
    ...(res.headers.get("range") ? { range: res.headers.get("range")! } : {}),
  });

  // 1. Fill the store: pushes of a 1.5 MB layer until one does not fit.
  let pushed = 0;
  const full: Answer[] = [];
  for (let i = 0; i < 10 && full.length === 0; i++) {
    try {
      await pushImage(base, repo, `full${i}`, randomImage([1536 * 1024]), {
        auth,
        requestId: `${prefix}-full-${i}`,
      });
      pushed++;
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      full.push({
        what: "monolithic blob upload (POST ?digest=)",
        status: error.status,
        body: error.body,
      });
    }
  }
  // A chunked upload whose chunk does not fit.
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, {
    method: "POST",
    headers: { authorization: auth },
  });
  const location = start.headers.get("location");
  if (start.status === 202 && location) {
    const chunk = randomBytes(3 * 1024 * 1024);
    full.push(
      await answer(
        "chunk of a chunked upload (PATCH)",
        await fetch(`${base}${location}`, {
          method: "PATCH",
          headers: {
            authorization: auth,
            "content-type": "application/octet-stream",
            "content-range": `0-${chunk.length - 1}`,
          },
          body: chunk,
        }),
      ),
    );
    full.push(
      await answer(
        "status of that upload (GET)",
        await fetch(`${base}${location}`, { headers: { authorization: auth } }),
      ),
    );
    await fetch(`${base}${location}`, { method: "DELETE", headers: { authorization: auth } });
  } else {
    full.push(await answer("start of a chunked upload (POST)", start));
  }
  const uploadBytesAfterFull = await dirBytes(join(env.blobsDir, "uploads"));
  const invariantsAfterFull = await checkInvariants(env.sql, env.blobsDir);

  // 2. Read-only.
  await env.readOnly(true);
  const readOnly: Answer[] = [];
  try {
    await pushImage(base, repo, "ro", randomImage([4096]), { auth, requestId: `${prefix}-ro` });
    readOnly.push({ what: "push", status: 201, body: "" });
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    readOnly.push({ what: "push (blob upload start)", status: error.status, body: error.body });
  }
  let pullWhileReadOnly = 0;
  try {
    await pullImage(base, repo, "full0", { auth, requestId: `${prefix}-ro-pull` });
    pullWhileReadOnly = 200;
  } catch (error) {
    pullWhileReadOnly = error instanceof HttpError ? error.status : -1;
  }
  const invariantsAfterReadOnly = await checkInvariants(env.sql, env.blobsDir);
  await env.readOnly(false);
  let pushAfterRecovery = 0;
  try {
    await pushImage(base, repo, "back", randomImage([4096]), {
      auth,
      requestId: `${prefix}-back`,
    });
    pushAfterRecovery = 201;
  } catch (error) {
    pushAfterRecovery = error instanceof HttpError ? error.status : -1;
  }
  const events = (
    await env.sql`
      select payload->>'action' as action, payload->>'outcome' as outcome,
             (payload->'reason'->>'reasonCode')::int as "reasonCode",
             coalesce(payload->'reason'->>'reasonForFailure', '') as reason
        from outbox where payload->>'outcome' = 'failure' order by seq`
  ).map((r) => ({
    action: r.action as string,
    outcome: r.outcome as string,
    reasonCode: r.reasonCode as number,
    reason: r.reason as string,
  }));
  return {
    mode: env.mode,
    capacityMb: env.capacityMb,
    pushedBeforeFull: pushed,
    full,
    uploadBytesAfterFull,
    readOnly,
    pullWhileReadOnly,
    pushAfterRecovery,
    invariantsAfterFull,
    invariantsAfterReadOnly,
    events,
  };
}

/**
 * The disk scenario under a server process whose store is a 5 MB tmpfs (root only):
 * null when this machine does not allow mounting one.
 */
export async function diskFaults(opts: { log?: Log } = {}): Promise<DiskFaultsReport | null> {
  const log = opts.log ?? (() => {});
  const dataDir = mkdtempSync(join(tmpdir(), "berth-fault-disk-"));
  const blobsDir = join(dataDir, "blobs");
  mkdirSync(blobsDir);
  const capacityMb = 5;
  if (!mountTmpfs(blobsDir, capacityMb)) return null;
  const prefix = `d${Date.now().toString(36)}`;
  let pg: Awaited<ReturnType<typeof startPostgres>> | undefined;
  let server: ServiceProcess | undefined;
  let setup: Setup | undefined;
  try {
    pg = await startPostgres();
    server = await startServerProcess({ databaseUrl: pg.url, dataDir, logLevel: "warn" });
    setup = await setupAccounts(pg.url, server.url, prefix, 1);
    log(`store on a ${capacityMb} MB tmpfs at ${blobsDir}`);
    return await runDiskFaults(
      {
        mode: "tmpfs",
        capacityMb,
        base: server.url,
        sql: setup.sql,
        actor: setup.actors[0]!,
        blobsDir,
        readOnly(on) {
          remount(blobsDir, on ? "ro" : "rw");
          log(on ? "store remounted read-only" : "store writable again");
        },
      },
      prefix,
    );
  } finally {
    await setup?.close().catch(() => {});
    await server?.stop();
    await pg?.destroy();
    unmount(blobsDir);
  }
}

async function dirBytes(dir: string): Promise<number> {
  const { readdir, stat: statFile } = await import("node:fs/promises");
  let total = 0;
  try {
    for (const name of await readdir(dir)) total += (await statFile(join(dir, name))).size;
  } catch {
    // no such folder: nothing in it
  }
  return total;
}
