import { manifests, repositoryBlobs, tags } from "@berth/db";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import {
  collectGarbage,
  createNamespace,
  deleteNamespace,
  getQuota,
  inspectImage,
  listImages,
  RegistryError,
  removeImages,
  storageUsage,
  tagImage,
  untagImages,
} from "../src/index";
import { createTestImage } from "../src/testing";
import { purgeTrash } from "../src/trash/purge";
import { forFile, setup } from "./helpers";

const env = await forFile(setup({ alice: ["birds", "fish", "spare"], bob: ["bobs"] }));

const image = (repository: string, tag: string, layers?: Record<string, string>[]) =>
  createTestImage(env.t.db, env.store, {
    accountId: env.alice.account.id,
    region: "us-south",
    repository,
    tag,
    ...(layers ? { layers } : {}),
  });

const BASE = { "etc/os-release": "ID=berth\n", "bin/sh": "#!/bin/true\n" };

async function expectRegistryError(p: Promise<unknown>, code: string): Promise<RegistryError> {
  const error = await p.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  expect((error as RegistryError).code).toBe(code);
  return error as RegistryError;
}

describe("images", () => {
  it("counts a layer shared by two images once in storage usage", async () => {
    const usage0 = await storageUsage(env.t.db, env.alice.account.id, "us-south");
    const a = await image("fish/app", "1", [BASE, { "app/a": "a" }]);
    const b = await image("fish/app", "2", [BASE, { "app/b": "b" }]);
    expect(a.layerBlobs[0]!.digest).toBe(b.layerBlobs[0]!.digest);
    const shared = a.layerBlobs[0]!.size;
    const usage = await storageUsage(env.t.db, env.alice.account.id, "us-south");
    expect(usage - usage0).toBe(a.totalSize + b.totalSize - shared);
    const quota = await getQuota(env.ctx(env.alice));
    expect(quota.usage.storageBytes).toBe(usage);
    expect(quota.plan).toBe("lite");
    // Bob's usage does not see Alice's images.
    expect(await storageUsage(env.t.db, env.bob.account.id, "us-south")).toBe(0);
  });

  it("lists tagged images, filtered by namespace or repository", async () => {
    await image("birds/robin", "v1");
    await image("birds/wren", "v1");
    const all = (await listImages(env.ctx(env.alice), {})).items;
    expect(all.map((i) => i.image)).toEqual(
      expect.arrayContaining(["birds/robin:v1", "birds/wren:v1", "fish/app:1", "fish/app:2"]),
    );
    const birds = (await listImages(env.ctx(env.alice), { namespace: "birds" })).items;
    expect(birds.map((i) => i.image)).toEqual(["birds/robin:v1", "birds/wren:v1"]);
    const robin = (await listImages(env.ctx(env.alice), { repository: "birds/robin" })).items;
    expect(robin).toHaveLength(1);
    expect(robin[0]).toMatchObject({ namespace: "birds", repository: "birds/robin", tag: "v1" });
    expect(robin[0]!.size).toBeGreaterThan(0);
    await expectRegistryError(listImages(env.ctx(env.alice), { namespace: "bobs" }), "NOT_FOUND");
    expect((await listImages(env.ctx(env.bob), {})).items).toEqual([]);
  });

  it("inspects config and manifest from the stored blobs", async () => {
    const img = await image("birds/owl", "latest");
    const details = await inspectImage(env.ctx(env.alice), { image: "birds/owl" });
    expect(details.image).toBe("birds/owl:latest");
    expect(details.digest).toBe(img.digest);
    expect(details.tags).toEqual(["latest"]);
    expect(details.config).toEqual(img.config);
    expect(details.layers.map((l) => l.digest)).toEqual(img.layerBlobs.map((l) => l.digest));
    expect(details.size).toBe(img.totalSize);
    const byDigest = await inspectImage(env.ctx(env.alice), { image: `birds/owl@${img.digest}` });
    expect(byDigest.digest).toBe(img.digest);
    await expectRegistryError(inspectImage(env.ctx(env.bob), { image: "birds/owl" }), "NOT_FOUND");
  });

  it("tags into another repository and namespace of the same account, sharing blobs", async () => {
    const img = await image("birds/finch", "1.0");
    const before = await storageUsage(env.t.db, env.alice.account.id, "us-south");
    const tagged = await tagImage(env.ctx(env.alice), {
      source: "birds/finch:1.0",
      target: "spare/finch-copy:stable",
    });
    expect(tagged).toEqual({
      source: "birds/finch:1.0",
      target: "spare/finch-copy:stable",
      digest: img.digest,
    });
    // Same digest, same blobs: nothing more is stored.
    expect(await storageUsage(env.t.db, env.alice.account.id, "us-south")).toBe(before);
    const copy = await inspectImage(env.ctx(env.alice), { image: "spare/finch-copy:stable" });
    expect(copy.digest).toBe(img.digest);
    expect(copy.config).toEqual(img.config);
    // A tag in the same repository, then moving it to another image.
    await tagImage(env.ctx(env.alice), { source: "birds/finch:1.0", target: "birds/finch:latest" });
    const other = await image("birds/finch", "2.0");
    await tagImage(env.ctx(env.alice), { source: "birds/finch:2.0", target: "birds/finch:latest" });
    expect((await inspectImage(env.ctx(env.alice), { image: "birds/finch" })).digest).toBe(
      other.digest,
    );
    // Into another account's namespace: as if it did not exist.
    await expectRegistryError(
      tagImage(env.ctx(env.alice), { source: "birds/finch:1.0", target: "bobs/stolen:1" }),
      "NOT_FOUND",
    );
    // Bob cannot use Alice's image as a source either.
    await expectRegistryError(
      tagImage(env.ctx(env.bob), { source: "birds/finch:1.0", target: "bobs/copy:1" }),
      "NOT_FOUND",
    );
    await expectRegistryError(
      tagImage(env.ctx(env.alice), { source: "birds/finch:1.0", target: `birds/x@${img.digest}` }),
      "BAD_REQUEST",
    );
  });

  it("untag removes only the tag and keeps the manifest; it needs explicit tags", async () => {
    const img = await image("birds/gull", "a");
    await tagImage(env.ctx(env.alice), { source: "birds/gull:a", target: "birds/gull:b" });
    const res = await untagImages(env.ctx(env.alice), { images: ["birds/gull:a"] });
    expect(res.untagged).toEqual(["birds/gull:a"]);
    await expectRegistryError(
      inspectImage(env.ctx(env.alice), { image: "birds/gull:a" }),
      "NOT_FOUND",
    );
    const kept = await inspectImage(env.ctx(env.alice), { image: `birds/gull@${img.digest}` });
    expect(kept.tags).toEqual(["b"]);
    await untagImages(env.ctx(env.alice), { images: ["birds/gull:b"] });
    // With no tags left the manifest is still there, reachable by digest, but not listed.
    expect(
      (await inspectImage(env.ctx(env.alice), { image: `birds/gull@${img.digest}` })).tags,
    ).toEqual([]);
    expect((await listImages(env.ctx(env.alice), { repository: "birds/gull" })).items).toEqual([]);
    await expectRegistryError(
      untagImages(env.ctx(env.alice), { images: ["birds/gull"] }),
      "BAD_REQUEST",
    );
    await expectRegistryError(
      untagImages(env.ctx(env.alice), { images: [`birds/gull@${img.digest}`] }),
      "BAD_REQUEST",
    );
  });

  it("rm deletes the manifest and all its tags in that repository; copies elsewhere remain", async () => {
    const img = await image("birds/heron", "1");
    await tagImage(env.ctx(env.alice), { source: "birds/heron:1", target: "birds/heron:prod" });
    await tagImage(env.ctx(env.alice), { source: "birds/heron:1", target: "fish/heron:1" });
    const before = await storageUsage(env.t.db, env.alice.account.id, "us-south");
    const res = await removeImages(env.ctx(env.alice), { images: ["birds/heron:prod"] });
    expect(res.removed).toEqual([
      {
        image: "birds/heron:prod",
        digest: img.digest,
        tags: expect.arrayContaining(["1", "prod"]),
      },
    ]);
    await expectRegistryError(
      inspectImage(env.ctx(env.alice), { image: "birds/heron:1" }),
      "NOT_FOUND",
    );
    await expectRegistryError(
      inspectImage(env.ctx(env.alice), { image: `birds/heron@${img.digest}` }),
      "NOT_FOUND",
    );
    expect((await inspectImage(env.ctx(env.alice), { image: "fish/heron:1" })).digest).toBe(
      img.digest,
    );
    // The copy in fish/heron still holds the blobs: storage unchanged.
    expect(await storageUsage(env.t.db, env.alice.account.id, "us-south")).toBe(before);
    await removeImages(env.ctx(env.alice), { images: ["fish/heron:1"] });
    // Both copies are in the trash now: it keeps their blobs and they still count (issue 19)
    // until the trash is emptied.
    expect(await storageUsage(env.t.db, env.alice.account.id, "us-south")).toBe(before);
    await purgeTrash(env.ctx(env.alice), {});
    expect(await storageUsage(env.t.db, env.alice.account.id, "us-south")).toBe(
      before - img.totalSize,
    );
  });

  it("rm of several images: existing ones go, missing ones fail on their own", async () => {
    await image("birds/kite", "1");
    const ctx = env.ctx(env.alice);
    const res = await removeImages(ctx, { images: ["birds/kite:1", "birds/kite:nope"] });
    expect(res.results.map((r) => r.ok)).toEqual([true, false]);
    const events = await env.events(ctx.requestId);
    expect(events.map((e) => [e.target.name, e.outcome, e.reason.reasonCode])).toEqual([
      ["birds/kite:1", "success", 200],
      ["birds/kite:nope", "failure", 404],
    ]);
    const none = env.ctx(env.alice);
    await expectRegistryError(
      removeImages(none, { images: ["birds/kite:1", "bobs/x:1"] }),
      "NOT_FOUND",
    );
    expect((await env.events(none.requestId)).map((e) => e.outcome)).toEqual([
      "failure",
      "failure",
    ]);
  });

  it("namespace delete removes repositories, tags and manifests and releases storage", async () => {
    await createNamespace(env.ctx(env.alice), { name: "doomed" });
    const a = await image("doomed/one", "1", [{ "unique/doomed": "only here" }]);
    await image("doomed/two", "1", [{ "unique/doomed2": "only here too" }]);
    const before = await storageUsage(env.t.db, env.alice.account.id, "us-south");
    const res = await deleteNamespace(env.ctx(env.alice), { name: "doomed" });
    expect(res).toMatchObject({ name: "doomed", repositories: 2, images: 2, tags: 2, trashed: 2 });
    // The images went to the trash, which still counts them (issue 19); emptying it releases.
    expect(res.releasedBytes).toBe(0);
    expect(await storageUsage(env.t.db, env.alice.account.id, "us-south")).toBe(before);
    const purged = await purgeTrash(env.ctx(env.alice), {});
    expect(purged.map((p) => p.repository)).toEqual(
      expect.arrayContaining(["doomed/one", "doomed/two"]),
    );
    expect(await storageUsage(env.t.db, env.alice.account.id, "us-south")).toBeLessThan(before);
    expect(await env.t.db.select().from(manifests).where(eq(manifests.digest, a.digest))).toEqual(
      [],
    );
    expect(await env.t.db.select().from(tags)).not.toContainEqual(
      expect.objectContaining({ manifestId: a.manifestId }),
    );
    expect(
      await env.t.db
        .select()
        .from(repositoryBlobs)
        .where(eq(repositoryBlobs.digest, a.layerBlobs[0]!.digest)),
    ).toEqual([]);
    // Unreferenced blob files are then reclaimed by garbage collection; shared ones stay.
    expect(await env.store.stat(a.layerBlobs[0]!.digest)).not.toBeNull();
    const gc = await collectGarbage(env.t.db, env.store, { olderThanMs: 0 });
    expect(gc.removed).toContain(a.layerBlobs[0]!.digest);
    expect(await env.store.stat(a.layerBlobs[0]!.digest)).toBeNull();
    const fishLayer = (await inspectImage(env.ctx(env.alice), { image: "fish/app:1" })).layers[0]!;
    expect(await env.store.stat(fishLayer.digest)).not.toBeNull();
  });
});
