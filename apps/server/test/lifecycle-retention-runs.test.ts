// Issue 19, retention runs in the less common cases: a multi-platform index counts as one
// image and takes its platform manifests with it (a pull of one of them protects it); an
// image pulled between the plan and its turn is skipped, not removed; an image whose removal
// fails is left untouched with its failure event while the others go (one transaction each).

import { basic, pushImage, putManifest, randomImage } from "@berth/harness";
import { beginRun, createNamespace, policyFor, removePlanned } from "@berth/registry";
import { apiKeyPrincipal, testContext } from "@berth/registry/testing";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { forFile, rid, startTestServer } from "./helpers";
import { MEDIA } from "./oci-client";
import { pushAged, SERVICE_INITIATOR } from "./retention-helpers";

const env = await forFile(startTestServer());
const A = () => env.client(env.alice);
const auth = () => basic("iamapikey", env.alice.apiKey);
const ctx = (requestId = rid("ctx")) =>
  testContext({
    db: env.t.db,
    store: env.store,
    principal: apiKeyPrincipal(env.alice.account, env.alice.user),
    requestId,
  });

const age = (repository: string, digest: string, days: number) =>
  env.t.db.execute(sql`
    update manifests set created_at = now() - make_interval(days => ${days})
     where digest = ${digest} and repository_id = (select id from repositories where name = ${repository})`);

describe("multi-platform images", () => {
  it("an index is one image: it goes with its platform manifests, one event each; a pull of a platform manifest keeps it", async () => {
    await createNamespace(ctx(), { name: "retindex" });
    const fresh = await pushIndex("retindex/app", "new", 1);
    const old = await pushIndex("retindex/app", "old", 5);
    const pulled = await pushIndex("retindex/app", "pulled", 6);
    const res = await fetch(`${env.url()}/v2/retindex/app/manifests/${pulled.children[1]}`, {
      headers: { authorization: auth(), accept: MEDIA.ociManifest },
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();

    const policy = { imagesPerRepository: 1, keepUntagged: false, keepPulledWithinDays: 7 };
    const analysis = await A().retention.analyze.query({ namespace: "retindex", policy });
    expect(analysis.remove.map((r) => r.digest)).toEqual([old.digest]);
    expect(analysis.keep.map((k) => [k.digest, k.reason])).toEqual([
      [fresh.digest, "newest"],
      [pulled.digest, "recently-pulled"],
    ]);

    const id = rid("run-index");
    const run = await A().retention.run.mutate(
      { namespace: "retindex", policy },
      { context: { requestId: id } },
    );
    expect(run.removed.map((r) => r.digest)).toEqual([old.digest]);
    const removals = (await env.events(id))
      .map((e) => e.event)
      .filter((e) => e.action === "container-registry.image.rm");
    expect(removals.map((e) => e.target.name).sort()).toEqual(
      [old.digest, ...old.children].map((d) => `retindex/app@${d}`).sort(),
    );
    for (const e of removals) expect(e.initiator).toEqual(SERVICE_INITIATOR);
    const trash = await A().trash.list.query({ namespace: "retindex" });
    expect(trash.map((t) => [t.digest, t.tags, t.reason])).toEqual([
      [old.digest, ["old"], "retention.run"],
    ]);
    // Restored, it comes back whole: the index pulls with its platform manifests.
    await A().image.restore.mutate({ image: "retindex/app:old" });
    for (const d of [old.digest, ...old.children]) {
      const head = await fetch(`${env.url()}/v2/retindex/app/manifests/${d}`, {
        method: "HEAD",
        headers: { authorization: auth(), accept: `${MEDIA.ociIndex}, ${MEDIA.ociManifest}` },
      });
      expect(head.status, d).toBe(200);
    }
  }, 120_000);
});

/** An index of two platform images, pushed by tag, `days` old; returns its and their digests. */
async function pushIndex(repository: string, tag: string, days: number) {
  const children: { digest: string; size: number }[] = [];
  for (const arch of ["amd64", "arm64"]) {
    const image = randomImage([16]);
    await pushImage(env.url(), repository, image.digest, image, {
      auth: auth(),
      requestId: rid(arch),
    });
    children.push({ digest: image.digest, size: image.manifest.length });
  }
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: children.map((c, i) => ({
        mediaType: MEDIA.ociManifest,
        digest: c.digest,
        size: c.size,
        platform: { os: "linux", architecture: i === 0 ? "amd64" : "arm64" },
      })),
    }),
  );
  const digest = await putManifest(env.url(), repository, tag, index, {
    auth: auth(),
    requestId: rid("index"),
    contentType: MEDIA.ociIndex,
  });
  for (const d of [digest, ...children.map((c) => c.digest)]) await age(repository, d, days);
  return { digest, children: children.map((c) => c.digest) };
}

describe("a run re-plans each image when its turn comes", () => {
  it("an image pulled after the plan is skipped, not removed, and has no event", async () => {
    await createNamespace(ctx(), { name: "retskip" });
    await pushAged(env, env.alice, "retskip/app", ["s1", true, 1, null]);
    const old = await pushAged(env, env.alice, "retskip/app", ["s2", true, 2, null]);
    const id = rid("run-skip");
    const c = ctx(id);
    const input = {
      namespace: "retskip",
      policy: { imagesPerRepository: 1, keepUntagged: false, keepPulledWithinDays: 7 },
    };
    const run = await beginRun(
      c,
      "manual",
      () => [],
      (tx) => policyFor(tx, c, input),
    );
    expect(run.plan.remove.map((d) => d.image.digest)).toEqual([old]);
    // Between the plan and the removal, someone pulls it.
    const res = await fetch(`${env.url()}/v2/retskip/app/manifests/s2`, {
      headers: { authorization: auth(), accept: MEDIA.ociManifest },
    });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const result = await removePlanned(c, run, "manual");
    expect(result.removed).toEqual([]);
    expect(result.skipped.map((s) => s.digest)).toEqual([old]);
    expect((await env.events(id)).map((e) => e.event.action)).toEqual([
      "container-registry.retention.run",
    ]);
    expect(await A().trash.list.query({ namespace: "retskip" })).toEqual([]);
  }, 60_000);
});

describe("one transaction per image", () => {
  it("an image whose removal fails stays whole, with a failure event; the others go", async () => {
    await createNamespace(ctx(), { name: "retfail" });
    await pushAged(env, env.alice, "retfail/app", ["f1", true, 1, null]);
    const bad = await pushAged(env, env.alice, "retfail/app", ["f2", true, 2, null]);
    const good = await pushAged(env, env.alice, "retfail/app", ["f3", true, 3, null]);
    // The database refuses to delete that one manifest (a fault only this test installs).
    await env.t.db.execute(
      sql.raw(`
      create function retention_test_refuse() returns trigger language plpgsql as $$
      begin
        if old.digest = '${bad}' then raise exception 'refused by the test'; end if;
        return old;
      end $$;
      create trigger retention_test_refuse before delete on manifests
        for each row execute function retention_test_refuse();`),
    );
    try {
      const id = rid("run-fail");
      const run = await A().retention.run.mutate(
        {
          namespace: "retfail",
          policy: { imagesPerRepository: 1, keepUntagged: false, keepPulledWithinDays: 0 },
        },
        { context: { requestId: id } },
      );
      expect(run.removed.map((r) => r.digest)).toEqual([good]);
      expect(run.failed.map((f) => [f.digest, f.error])).toEqual([
        [bad, { code: "INTERNAL", message: "internal error" }],
      ]);
      const events = (await env.events(id)).map((e) => e.event);
      const failure = events.find((e) => e.outcome === "failure")!;
      expect(failure).toMatchObject({
        action: "container-registry.image.rm",
        severity: "warning",
        initiator: SERVICE_INITIATOR,
        target: { name: `retfail/app@${bad}` },
        reason: { reasonCode: 500, reasonForFailure: "internal error" },
        requestData: { namespace: "retfail", trigger: "manual", reason: "beyond-count" },
      });
      const trash = await A().trash.list.query({ namespace: "retfail" });
      expect(trash.map((t) => t.digest)).toEqual([good]);
      const head = await fetch(`${env.url()}/v2/retfail/app/manifests/f2`, {
        method: "HEAD",
        headers: { authorization: auth(), accept: MEDIA.ociManifest },
      });
      expect(head.status).toBe(200);
    } finally {
      await env.t.db.execute(
        sql.raw(`
        drop trigger retention_test_refuse on manifests;
        drop function retention_test_refuse();`),
      );
    }
  }, 60_000);
});
