/** kill -9 of the server under load, again and again (`pnpm fault:kill`). */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { accountEvents, type EventAccounting } from "../accounting";
import { checkInvariants, type InvariantReport } from "../invariants";
import { type ServiceProcess, startPostgres, startServerProcess, until } from "../processes";
import { type OpSummary, Workload } from "../workload";
import { type Log, type Setup, setupAccounts } from "./setup";

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
