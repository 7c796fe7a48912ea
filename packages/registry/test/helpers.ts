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
import { storeImage } from "../src/images/records";
import { MEDIA_TYPES } from "../src/index";
import { createNamespace } from "../src/namespaces/create";
import { FsBlobStore } from "../src/storage/fs-blob-store";
import { apiKeyPrincipal, createTestImage, testContext } from "../src/testing";

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

/** A fresh database with two accounts, alice and bob, each with the namespaces named here. */
export async function setup(namespaces: { alice?: string[]; bob?: string[] } = {}): Promise<Env> {
  const t = await createTestDatabase();
  const store = new FsBlobStore(mkdtempSync(join(tmpdir(), "berth-reg-")));
  const alice = await createAccount(t.db, { name: "alice" });
  const bob = await createAccount(t.db, { name: "bob" });
  let n = 0;
  const env: Env = {
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
  for (const who of ["alice", "bob"] as const) {
    for (const name of namespaces[who] ?? []) await createNamespace(env.ctx(env[who]), { name });
  }
  return env;
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

/**
 * A multi-platform image of alice's in `repository`: an amd64 and an arm64 manifest (tagged
 * by architecture) and the index listing both, tagged `latest`.
 */
export async function multiPlatformImage(env: Env, repository: string) {
  const base = { accountId: env.alice.account.id, region: "us-south" as const, repository };
  const platform = (architecture: string) =>
    createTestImage(env.t.db, env.store, { ...base, tag: architecture, architecture });
  const amd = await platform("amd64");
  const arm = await platform("arm64");
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [
        { ...amd, architecture: "amd64" },
        { ...arm, architecture: "arm64" },
      ].map((p) => ({
        mediaType: MEDIA_TYPES.ociManifest,
        digest: p.digest,
        size: p.size,
        platform: { architecture: p.architecture, os: "linux" },
      })),
    }),
  );
  const stored = await storeImage(env.t.db, env.store, {
    ...base,
    tag: "latest",
    manifest: index,
    mediaType: MEDIA_TYPES.ociIndex,
    blobs: [],
  });
  return { amd, arm, index: stored };
}
