// Issue 19, scheduled retention: a due policy is run by exactly one of several runners at
// once (four in one process, then two real server processes on one database), at most once
// per BERTH_RETENTION_INTERVAL_HOURS; the run's event and its removals name the service.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AtEvent, eventSchema } from "@berth/core";
import { outbox } from "@berth/db";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import { type ServiceProcess, startServerProcess, until } from "@berth/harness";
import {
  type CreatedAccount,
  createAccount,
  createNamespace,
  FsBlobStore,
  runDueRetention,
  setRetention,
} from "@berth/registry";
import { apiKeyPrincipal, createTestImage, testContext } from "@berth/registry/testing";
import { asc, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { retentionIntervalMs } from "../src/retention-schedule";
import { crn } from "./expect-events";
import { SERVICE_INITIATOR } from "./retention-helpers";

let t: TestDatabase;
let store: FsBlobStore;
let alice: CreatedAccount;
const procs: ServiceProcess[] = [];

const ctx = () =>
  testContext({ db: t.db, store, principal: apiKeyPrincipal(alice.account, alice.user) });

/** A namespace with a policy keeping one image per repository, and three images in `app`. */
async function namespaceWithOldImages(name: string): Promise<string[]> {
  await createNamespace(ctx(), { name });
  const digests: string[] = [];
  for (const [i, tag] of ["new", "mid", "old"].entries()) {
    const image = await createTestImage(t.db, store, {
      accountId: alice.account.id,
      region: "us-south",
      repository: `${name}/app`,
      tag,
    });
    await t.db.execute(
      sql`update manifests set created_at = now() - make_interval(days => ${i + 1}) where digest = ${image.digest}`,
    );
    digests.push(image.digest);
  }
  await setRetention(ctx(), { namespace: name, imagesPerRepository: 1, keepPulledWithinDays: 0 });
  return digests;
}

async function events(action: string): Promise<AtEvent[]> {
  const rows = await t.db
    .select({ payload: outbox.payload })
    .from(outbox)
    .where(eq(outbox.accountId, alice.account.id))
    .orderBy(asc(outbox.seq));
  return rows.map((r) => eventSchema.parse(r.payload)).filter((e) => e.action === action);
}
const runsOf = async (ns: string) =>
  (await events("container-registry.retention.run")).filter((e) => e.target.name === ns);

beforeAll(async () => {
  t = await createTestDatabase();
  store = new FsBlobStore(mkdtempSync(join(tmpdir(), "berth-ret-")));
  alice = await createAccount(t.db, { name: "alice", userName: "alice@example.com" });
}, 60_000);
afterAll(async () => {
  await Promise.all(procs.map((p) => p.stop()));
  await t?.drop();
});

describe("runDueRetention", () => {
  it("four runners at once: each due policy runs once, its events name the service", async () => {
    const [, mid, old] = await namespaceWithOldImages("schedone");
    const reports = await Promise.all(
      [1, 2, 3, 4].map(() => runDueRetention(t.db, store, { intervalMs: 3_600_000 })),
    );
    const runs = reports.flatMap((r) => r.runs).filter((r) => r.namespace === "schedone");
    expect(runs).toHaveLength(1);
    expect(runs[0]!.removed.map((r) => r.digest).sort()).toEqual([mid, old].sort());
    expect(reports.flatMap((r) => r.failures)).toEqual([]);

    const [run] = await runsOf("schedone");
    expect(run).toBeDefined();
    expect(run!.outcome).toBe("success");
    expect(run!.severity).toBe("critical");
    expect(run!.dataEvent).toBe(false);
    expect(run!.message).toBe("Container Registry: run retention policy schedone");
    expect(run!.initiator).toEqual(SERVICE_INITIATOR);
    expect(run!.target).toEqual({
      id: crn("us-south", alice.account.id, "namespace", "schedone"),
      name: "schedone",
      typeURI: "container-registry/namespace",
    });
    expect(run!.requestData).toEqual({
      namespace: "schedone",
      policy: { imagesPerRepository: 1, keepUntagged: false, keepPulledWithinDays: 0 },
      policyGiven: false,
      trigger: "schedule",
    });
    expect(run!.responseData).toEqual({ planned: 2, keep: 1 });
    const removals = (await events("container-registry.image.rm")).filter(
      (e) => e.correlationId === run!.correlationId,
    );
    expect(removals.map((e) => e.target.name).sort()).toEqual(
      [`schedone/app@${mid}`, `schedone/app@${old}`].sort(),
    );
    for (const e of removals) {
      expect(e.initiator).toEqual(SERVICE_INITIATOR);
      expect(e.requestData).toMatchObject({ trigger: "schedule", reason: "beyond-count" });
    }

    // Not due again within the interval; due again once it has passed.
    const again = await runDueRetention(t.db, store, { intervalMs: 3_600_000 });
    expect(again.runs.filter((r) => r.namespace === "schedone")).toEqual([]);
    await t.db.execute(
      sql`update retention_policies set last_run_at = now() - interval '2 hours'
           where namespace_id = (select id from namespaces where name = 'schedone')`,
    );
    const later = await runDueRetention(t.db, store, { intervalMs: 3_600_000 });
    expect(later.runs.filter((r) => r.namespace === "schedone")).toHaveLength(1);
    expect(await runsOf("schedone")).toHaveLength(2);
  }, 60_000);

  it("keeps what a scheduled run removes in the trash for BERTH_TRASH_DAYS, not the default", async () => {
    const [, mid, old] = await namespaceWithOldImages("schedweek");
    const before = Date.now();
    const report = await runDueRetention(t.db, store, { intervalMs: 3_600_000, trashDays: 7 });
    const run = report.runs.find((r) => r.namespace === "schedweek");
    expect(run?.removed.map((r) => r.digest).sort()).toEqual([mid, old].sort());
    for (const r of run!.removed) {
      const days = (Date.parse(r.trashedUntil) - before) / 86_400_000;
      expect(days, `${r.digest} trashed until ${r.trashedUntil}`).toBeGreaterThan(6.99);
      expect(days, `${r.digest} trashed until ${r.trashedUntil}`).toBeLessThan(7.01);
    }
  }, 60_000);
});

describe("BERTH_RETENTION_INTERVAL_HOURS", () => {
  it.each([
    [undefined, 86_400_000],
    ["24", 86_400_000],
    ["0.5", 1_800_000],
    ["0", 0],
  ])("%s → %i ms", (value, ms) => {
    expect(
      retentionIntervalMs(value === undefined ? {} : { BERTH_RETENTION_INTERVAL_HOURS: value }),
    ).toBe(ms);
  });

  it.each(["-1", "abc", "0.0001", "1e400"])("refuses %s", (value) => {
    expect(() => retentionIntervalMs({ BERTH_RETENTION_INTERVAL_HOURS: value })).toThrow(
      /BERTH_RETENTION_INTERVAL_HOURS must be 0 \(off\) or a number of hours/,
    );
  });
});

describe("two server processes on one database", () => {
  it("run a due policy once between them", async () => {
    const [, mid, old] = await namespaceWithOldImages("schedtwo");
    const start = () =>
      startServerProcess({
        databaseUrl: t.url,
        dataDir: mkdtempSync(join(tmpdir(), "berth-ret-proc-")),
        logLevel: "debug",
        env: { BERTH_RETENTION_INTERVAL_HOURS: "1" },
        readyTimeoutMs: 180_000,
      });
    procs.push(...(await Promise.all([start(), start()])));
    // Each process checks about a second after it starts: wait until both have.
    for (const p of procs) {
      await until(
        `a retention check by server ${p.pid}`,
        () => (p.output.some((l) => l.includes('"retention check"')) ? true : undefined),
        120_000,
      );
    }
    const runs = await runsOf("schedtwo");
    expect(runs).toHaveLength(1);
    expect(runs[0]!.initiator).toEqual(SERVICE_INITIATOR);
    const removed = (await events("container-registry.image.rm"))
      .filter((e) => e.correlationId === runs[0]!.correlationId)
      .map((e) => e.target.name);
    expect(removed.sort()).toEqual([`schedtwo/app@${mid}`, `schedtwo/app@${old}`].sort());
    const ran = procs.filter((p) =>
      p.output.some((l) => /"retention check".*"runs":1|"runs":1.*"retention check"/.test(l)),
    );
    expect(ran, "processes that ran it").toHaveLength(1);
  }, 300_000);
});
