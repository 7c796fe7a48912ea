import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AtEvent, eventSchema, type RegionName } from "@berth/core";
import { outbox } from "@berth/db";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import { sql } from "drizzle-orm";
import { afterAll } from "vitest";
import { type CreatedAccount, createAccount } from "../src/accounts/accounts";
import type { RegistryContext } from "../src/context";
import { FsBlobStore } from "../src/storage/fs-blob-store";
import { apiKeyPrincipal, testContext } from "../src/testing";

export interface Env {
  t: TestDatabase;
  store: FsBlobStore;
  alice: CreatedAccount;
  bob: CreatedAccount;
  ctx(who: CreatedAccount, region?: RegionName): RegistryContext;
  /** Events written for a request id, validated against the schema. */
  events(requestId: string): Promise<AtEvent[]>;
  drop(): Promise<void>;
}

export async function setup(): Promise<Env> {
  const t = await createTestDatabase();
  const store = new FsBlobStore(mkdtempSync(join(tmpdir(), "berth-reg-")));
  const alice = await createAccount(t.db, { name: "alice" });
  const bob = await createAccount(t.db, { name: "bob" });
  let n = 0;
  return {
    t,
    store,
    alice,
    bob,
    ctx: (who, region = "us-south") =>
      testContext({
        db: t.db,
        store,
        principal: apiKeyPrincipal(who.account, who.user),
        region,
        requestId: `req-${++n}-${Math.random().toString(36).slice(2, 8)}`,
      }),
    events: async (requestId) => {
      const rows = await t.db
        .select({ payload: outbox.payload })
        .from(outbox)
        .where(sql`${outbox.payload}->>'correlationId' = ${requestId}`)
        .orderBy(outbox.seq);
      return rows.map((r) => eventSchema.parse(r.payload));
    },
    drop: () => t.drop(),
  };
}

/**
 * One fixture for the whole test file: awaited as the file loads (top-level await), dropped
 * after its last test, so each file does not repeat the beforeAll/afterAll pair.
 */
export async function forFile<T extends { drop(): Promise<void> }>(made: Promise<T>): Promise<T> {
  const fixture = await made;
  afterAll(() => fixture.drop());
  return fixture;
}
