// Issue 19, BERTH_TRASH_DAYS: validated when the server starts (a bad value names the
// variable), and the period it sets is what image.rm, image.bulkdelete, the OCI DELETE and
// image.prune-untagged give a deleted image in the trash.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBerthClient } from "@berth/client";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import { createAccount, createNamespace, FsBlobStore } from "@berth/registry";
import { apiKeyPrincipal, createTestImage, testContext } from "@berth/registry/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config";
import { type RunningServer, startServer } from "../src/server";

const DAY = 86_400_000;

describe("BERTH_TRASH_DAYS", () => {
  it("defaults to 30 and takes a whole number of days from 1 to 3650", () => {
    expect(loadConfig({}).trashDays).toBe(30);
    expect(loadConfig({ BERTH_TRASH_DAYS: "7" }).trashDays).toBe(7);
    for (const bad of ["0", "-1", "1.5", "soon", "3651"]) {
      expect(() => loadConfig({ BERTH_TRASH_DAYS: bad }), bad).toThrow(ConfigError);
      expect(() => loadConfig({ BERTH_TRASH_DAYS: bad }), bad).toThrow(/BERTH_TRASH_DAYS/);
    }
  });
});

describe("a server started with BERTH_TRASH_DAYS=3", () => {
  let t: TestDatabase;
  let store: FsBlobStore;
  let server: RunningServer;
  let apiKey: string;
  let accountId: string;

  beforeAll(async () => {
    t = await createTestDatabase();
    store = new FsBlobStore(mkdtempSync(join(tmpdir(), "berth-trashdays-")));
    server = await startServer({
      db: t.db,
      store,
      regions: [{ region: "us-south", port: 0 }],
      logLevel: "warn",
      logDestination: { write: () => undefined },
      trashDays: loadConfig({ BERTH_TRASH_DAYS: "3" }).trashDays,
    });
    const alice = await createAccount(t.db, { name: "alice", userName: "alice@example.com" });
    apiKey = alice.apiKey;
    accountId = alice.account.id;
    await createNamespace(
      testContext({
        db: t.db,
        store,
        principal: apiKeyPrincipal(alice.account, alice.user),
        region: "us-south",
        requestId: "setup",
      }),
      { name: "days" },
    );
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    await t?.drop();
  });

  it("keeps what image.rm, image.bulkdelete, the OCI DELETE and a prune delete for 3 days", async () => {
    const image = (repository: string, tag: string) =>
      createTestImage(t.db, store, { accountId, region: "us-south", repository, tag });
    const client = createBerthClient({ url: server.urls["us-south"]!, apiKey });
    await image("days/rm", "1");
    await image("days/bulk", "1");
    const deleted = await image("days/oci", "1");
    await image("days/prune", "1");
    await client.image.untag.mutate({ images: ["days/prune:1"] });

    await client.image.rm.mutate({ images: ["days/rm:1"] });
    await client.image.bulkdelete.mutate({ images: ["days/bulk:1"] });
    const del = await fetch(`${server.urls["us-south"]}/v2/days/oci/manifests/${deleted.digest}`, {
      method: "DELETE",
      headers: { authorization: `Basic ${Buffer.from(`iamapikey:${apiKey}`).toString("base64")}` },
    });
    expect(del.status).toBe(202);
    await client.image["prune-untagged"].mutate({ namespace: "days" });

    const items = await client.trash.list.query();
    expect(items.map((i) => [i.repository, i.reason]).sort()).toEqual([
      ["days/bulk", "image.bulkdelete"],
      ["days/oci", "image.delete"],
      ["days/prune", "image.prune-untagged"],
      ["days/rm", "image.rm"],
    ]);
    for (const i of items) {
      expect(Date.parse(i.expiresAt) - Date.parse(i.deletedAt), i.repository).toBe(3 * DAY);
    }
  });
});
