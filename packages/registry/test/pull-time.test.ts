import { PULL_RECORD_RESOLUTION_MS } from "@berth/core";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { pullManifest } from "../src/oci/pull-manifest";
import { createTestImage } from "../src/testing";
import { forFile, setup } from "./helpers";

// A manifest GET writes the pull's time for retention only when the stored one is older than
// PULL_RECORD_RESOLUTION_MS (the lag retention allows for): most pulls write nothing but
// their event, and an image pulled now is never left looking unpulled for longer than that.

const env = await forFile(setup({ alice: ["alicens"] }));
const image = await createTestImage(env.t.db, env.store, {
  accountId: env.alice.account.id,
  region: "us-south",
  repository: "alicens/app",
  tag: "v1",
});

async function storedPullTime(): Promise<Date | undefined> {
  const [row] = await env.t.db.execute<{ at: string | Date }>(sql`
    select last_pulled_at as at from manifest_pulls where digest = ${image.digest}`);
  return row ? new Date(row.at) : undefined;
}

async function setPullTime(at: Date): Promise<void> {
  await env.t.db.execute(sql`
    update manifest_pulls set last_pulled_at = ${at.toISOString()}::timestamptz
     where digest = ${image.digest}`);
}

const pull = async () => {
  const ctx = env.ctx(env.alice);
  await pullManifest(ctx, { repository: "alicens/app", reference: "v1" });
  const [event] = await env.events(ctx.requestId);
  expect([event?.action, event?.outcome]).toEqual(["container-registry.image.pull", "success"]);
};

describe("a manifest pull's time for retention", () => {
  it("is written by the first pull, then again only once the stored one is stale", async () => {
    expect(await storedPullTime()).toBeUndefined();
    const before = Date.now();
    await pull();
    expect((await storedPullTime())!.getTime()).toBeGreaterThanOrEqual(before - 1000);

    // Recent enough: left as it is.
    const recent = new Date(Date.now() - PULL_RECORD_RESOLUTION_MS / 2);
    await setPullTime(recent);
    await pull();
    expect(await storedPullTime()).toEqual(recent);

    // Stale: the pull writes its own time.
    await setPullTime(new Date(Date.now() - PULL_RECORD_RESOLUTION_MS - 60_000));
    const again = Date.now();
    await pull();
    expect((await storedPullTime())!.getTime()).toBeGreaterThanOrEqual(again - 1000);
  });
});
