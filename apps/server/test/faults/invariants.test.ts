import { rmSync, truncateSync } from "node:fs";
import { outbox } from "@berth/db";
import { basic, blobFile, checkInvariants, pushImage, randomImage, trpc } from "@berth/harness";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { forFile, startTestServer } from "../helpers";

// The consistency checks the fault scenarios rely on find what they are meant to find: a
// check that cannot fail proves nothing.

const env = await forFile(startTestServer());
let layer: string;
const check = () => checkInvariants(env.t.sql, env.store.root);

beforeAll(async () => {
  await trpc(env.url(), env.alice.apiKey, "namespace.create", { name: "checked" }, "inv-1");
  await trpc(env.url(), env.alice.apiKey, "registrytoken.create", {}, "inv-2");
  const image = randomImage([4096, 2048]);
  await pushImage(env.url(), "checked/app", "1", image, {
    auth: basic("iamapikey", env.alice.apiKey),
    requestId: "inv-3",
  });
  layer = JSON.parse(image.manifest.toString()).layers[0].digest;
});

describe("invariants", () => {
  it("hold on a consistent registry", async () => {
    const report = await check();
    expect(report.violations).toEqual([]);
    expect(report.counted).toMatchObject({ manifests: 1, references: 3, namespaces: 1, tokens: 1 });
  });

  it("find a referenced blob whose file is short or gone, and the usage it falsifies", async () => {
    const path = blobFile(env.store.root, layer);
    truncateSync(path, 10);
    let report = await check();
    expect(report.violations.map((v) => v.check)).toEqual(["stored", "usage"]);
    rmSync(path);
    report = await check();
    expect(report.violations.map((v) => v.detail).join("\n")).toMatch(
      /no file[\s\S]*file is missing/,
    );
  });

  it("find a change without its event and an event without its change", async () => {
    await env.t.db.execute(
      sql`delete from ${outbox} where ${outbox.payload}->>'correlationId' = 'inv-2'`,
    );
    const [event] = await env.t.db
      .select({ payload: outbox.payload })
      .from(outbox)
      .where(sql`${outbox.payload}->>'correlationId' = 'inv-1'`);
    const forged = JSON.parse(JSON.stringify(event!.payload).replaceAll("checked", "phantom"));
    forged.id = "0190a5c4-0000-7000-8000-00000000abcd";
    await env.t.db.insert(outbox).values({
      id: forged.id,
      accountId: env.alice.account.id,
      region: "us-south",
      action: forged.action,
      payload: forged,
    });
    const details = (await check()).violations.map((v) => v.detail).join("\n");
    expect(details).toMatch(/token .* exists without its success event/);
    expect(details).toMatch(/ns .* phantom has its success event but does not exist/);
  });
});
