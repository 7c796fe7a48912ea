/**
 * What one audited event costs to make durable (issue 15): `pnpm bench:outbox [--rounds 3]
 * [--events 6000]`.
 *
 * The audit's share of an audited call is the work its event adds: building and checking it
 * (`buildEvent`), its part of the outbox statement that commits it with the events of the
 * calls of the same moment (the group commit of audited reads: one statement in flight per
 * process, so measured here one at a time), and its part of the workers' wake-up sent after
 * each such statement. This measures each on its own, as CPU (the process, from
 * process.cpuUsage; the statement's Postgres backend, from /proc), at batch sizes from one
 * event to more than bench:api's 16 connections can form, and prints what an audited call
 * adds at each size: the floor the group commit can reach, to set beside bench:api's audit
 * cost. Rounds are repeated and the medians printed with their range.
 *
 * Berth's Postgres is DATABASE_URL's server (a fresh database) or an embedded one; backend
 * CPU needs the server on this machine (else it prints 0).
 */
import { randomBytes } from "node:crypto";
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { type BuildEventInput, buildEvent, uuidV7 } from "@berth/core";
import { createDb, enqueueEvents, type OutboxEventInput, wakeWorkers } from "@berth/db";
import { benchDatabase, cpuSeconds, loadText, percentile } from "@berth/harness";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    /** Events per measure and batch size (each batch size sends events / size statements). */
    events: { type: "string", default: "6000" },
  },
});
const ROUNDS = Number(args.rounds);
const EVENTS = Number(args.events);
if (
  !(Number.isInteger(ROUNDS) && ROUNDS >= 1 && ROUNDS <= 9 && EVENTS >= 100 && EVENTS <= 100_000)
) {
  console.error("usage: pnpm bench:outbox [--rounds 3 (1-9)] [--events 6000 (100-100000)]");
  process.exit(2);
}
const BATCH_SIZES = [1, 6, 16, 64];
const ACCOUNT = "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6";

/** The event of a manifest GET by a bearer token, as the registry builds it. */
function pullInput(): BuildEventInput {
  return {
    id: uuidV7(Date.now(), randomBytes(16)),
    time: new Date(),
    action: "container-registry.image.pull",
    outcome: "success",
    region: "us-south",
    account: ACCOUNT,
    initiator: {
      id: "iam-ServiceId-0b5f1c7e-3f7a-4c2e-9d0b-2f6f5b8e1a2c",
      name: "ci-pipeline",
      typeURI: "service/security/account/serviceid",
      credential: { type: "token" },
      host: {
        address: "127.0.0.1",
        addressType: "IPv4",
        agent: "containers/5.29.2 (github.com/containers/image)",
      },
    },
    target: { name: "props/app:1", crnName: `props/app@sha256:${"ab".repeat(32)}` },
    reasonCode: 200,
    messageDetail: "props/app:1",
    responseData: {
      digest: `sha256:${"ab".repeat(32)}`,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      size: 1234,
    },
    correlationId: "5f0c4b1e-8a7d-4e39-b2c6-1d9e8f7a6b5c",
  };
}

interface Cost {
  /** This process's CPU, µs per unit. */
  client: number;
  /** The statement's Postgres backend's CPU, µs per unit. */
  backend: number;
  /** Wall time per statement, µs. */
  wall: number;
}

/** Run `step` `times` times one after another; the CPU of each side per `units`. */
async function measure(
  backendPid: number,
  times: number,
  units: number,
  step: () => Promise<unknown>,
): Promise<Cost> {
  for (let i = 0; i < Math.min(times, 50); i++) await step();
  const backend0 = cpuSeconds(backendPid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < times; i++) await step();
  const wall = performance.now() - t0;
  const client = process.cpuUsage(client0);
  const backend = cpuSeconds(backendPid) - backend0;
  return {
    client: (client.user + client.system) / units,
    backend: (backend * 1e6) / units,
    wall: (wall * 1000) / times,
  };
}

async function main(): Promise<void> {
  console.log(
    `bench:outbox — ${ROUNDS} rounds of ${EVENTS} events, ${cpus().length} cores, load ${loadText()}`,
  );
  const database = await benchDatabase();
  // One connection: every statement runs on the backend whose CPU is read.
  const { db, sql } = createDb(database.url, { max: 1 });
  try {
    const [own] = await sql<{ pid: number }[]>`select pg_backend_pid() as pid`;
    const pid = own!.pid;
    const build: number[] = [];
    const perBatch = new Map<number, Cost[]>(BATCH_SIZES.map((b) => [b, []]));
    const wake: Cost[] = [];
    const select: Cost[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const inputs = Array.from({ length: EVENTS }, pullInput);
      const c0 = process.cpuUsage();
      const events = inputs.map(buildEvent);
      const c = process.cpuUsage(c0);
      build.push((c.user + c.system) / EVENTS);
      const rows: OutboxEventInput[] = events.map((event) => ({
        event,
        accountId: ACCOUNT,
        region: "us-south",
      }));
      for (const size of BATCH_SIZES) {
        let next = 0;
        const statements = Math.floor(EVENTS / size);
        perBatch.get(size)!.push(
          await measure(pid, statements, statements * size, () => {
            // Fresh ids each time round: an outbox id is a primary key.
            const batch = rows.slice(next, next + size).map((r) => ({
              ...r,
              event: { ...r.event, id: uuidV7(Date.now(), randomBytes(16)) },
            }));
            next = (next + size) % (EVENTS - size);
            return enqueueEvents(db, batch);
          }),
        );
      }
      wake.push(
        await measure(pid, Math.floor(EVENTS / 4), Math.floor(EVENTS / 4), async () => {
          wakeWorkers(db);
          // wakeWorkers does not wait: a select behind it on the one connection does.
          await sql`select 1`;
        }),
      );
      select.push(
        await measure(pid, Math.floor(EVENTS / 4), Math.floor(EVENTS / 4), () => sql`select 1`),
      );
      console.log(`  round ${round + 1} done, load ${loadText()}`);
    }
    const fig = (xs: number[]) =>
      `${percentile(xs, 50).toFixed(1)} [${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}]`;
    console.log(`buildEvent (image.pull)          ${fig(build)} µs per event`);
    // The wake-up alone: the select that waited for it is measured on its own and taken off.
    const wakeOnly = wake.map((w, i) => ({
      client: w.client - select[i]!.client,
      backend: w.backend - select[i]!.backend,
    }));
    const wakeTotal = wakeOnly.map((w) => w.client + w.backend);
    console.log(
      `wake-up statement                process ${fig(wakeOnly.map((w) => w.client))}, backend ${fig(wakeOnly.map((w) => w.backend))} µs per statement (beyond a select 1: process ${fig(select.map((w) => w.client))}, backend ${fig(select.map((w) => w.backend))})`,
    );
    console.log("outbox statement, one in flight (µs per event; wall per statement):");
    for (const size of BATCH_SIZES) {
      const cs = perBatch.get(size)!;
      const added = cs.map((x, i) => build[i]! + x.client + x.backend + wakeTotal[i]! / size);
      console.log(
        `  ${String(size).padStart(3)} events  process ${fig(cs.map((x) => x.client))}  backend ${fig(cs.map((x) => x.backend))}  wall ${fig(cs.map((x) => x.wall))}  → an audited call adds ${fig(added)} µs of CPU (build + statement + wake-up share)`,
      );
    }
    console.log(`load ${loadText()}`);
  } finally {
    await sql.end({ timeout: 5 });
    await database.close();
  }
}

await main();
