import { type BerthClient, createBerthClient } from "@berth/client";
import type { RegionName } from "@berth/core";
import { outbox } from "@berth/db";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import {
  INGESTION_KEY,
  QUERY_KEY,
  type ServiceProcess,
  startTrackerProcess,
  until,
} from "@berth/harness";
import { type CreatedAccount, createAccount } from "@berth/registry";
import { lineOf } from "@berth/tracker-client/testing";
import { sql } from "drizzle-orm";
import { expect } from "vitest";
import type { RunningServer, StartServerOptions } from "../src/server";
import { serverOn } from "./helpers";

/**
 * What the tests of the tracker-backed calls (events.*, log.*) share: a database, the local
 * tracker as its own process storing into it (apps do not import apps), a server on the
 * database that asks that tracker, and alice and bob. No worker: a test delivers a request's
 * events itself, so it knows what the tracker holds.
 */
export interface TrackerBed {
  t: TestDatabase;
  tracker: ServiceProcess;
  server: RunningServer;
  alice: CreatedAccount;
  bob: CreatedAccount;
  client(who?: { apiKey: string }, region?: RegionName): BerthClient;
  /**
   * Deliver a request's events (its outbox payloads, in order) to a tracker region, as the
   * worker would; returns their ids.
   */
  deliver(requestId: string, trackerRegion?: string): Promise<string[]>;
  /** Bounded polling until the tracker has signed a checkpoint of `who`'s covering `size` entries. */
  checkpointOf(who: CreatedAccount, size: number): Promise<Checkpoint>;
  close(): Promise<void>;
}

type Checkpoint = Awaited<ReturnType<BerthClient["log"]["checkpoint"]["query"]>>;

/** A TrackerBed; `opts` go to the server (regions, say) beside the tracker option. */
export async function startTrackerBed(opts: Partial<StartServerOptions> = {}): Promise<TrackerBed> {
  const t = await createTestDatabase();
  const tracker = await startTrackerProcess({ databaseUrl: t.url });
  const server = await serverOn(t.db, {
    ...opts,
    tracker: { url: tracker.url, queryKey: QUERY_KEY },
  });
  const alice = await createAccount(t.db, { name: "alice", userName: "alice@example.com" });
  const bob = await createAccount(t.db, { name: "bob", userName: "bob@example.com" });
  const client = (who?: { apiKey: string }, region: RegionName = "us-south") =>
    createBerthClient({ url: server.urls[region]!, ...(who ? { apiKey: who.apiKey } : {}) });
  return {
    t,
    tracker,
    server,
    alice,
    bob,
    client,
    async deliver(requestId, trackerRegion = "us-south") {
      const rows = await t.db
        .select({ payload: outbox.payload })
        .from(outbox)
        .where(sql`${outbox.payload}->>'correlationId' = ${requestId}`)
        .orderBy(outbox.seq);
      expect(rows.length, `events of ${requestId}`).toBeGreaterThan(0);
      const events = rows.map((r) => r.payload as Parameters<typeof lineOf>[0]);
      const res = await fetch(`${tracker.url}/regions/${trackerRegion}/logs/ingest?hostname=test`, {
        method: "POST",
        headers: { "content-type": "application/json", apikey: INGESTION_KEY },
        body: JSON.stringify({ lines: events.map(lineOf) }),
      });
      if (!res.ok) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
      return events.map((e) => e.id);
    },
    checkpointOf: (who, size) =>
      until(
        `a checkpoint of ${who.account.name}'s log covering ${size} entries`,
        async () => {
          const c = await client(who)
            .log.checkpoint.query()
            .catch(() => undefined);
          return c && c.size >= size ? c : undefined;
        },
        60_000,
      ),
    async close() {
      await server.close();
      await tracker.stop();
      await t.drop();
    },
  };
}
