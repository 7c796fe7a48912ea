import { randomBytes } from "node:crypto";
import { existsSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { blobs, manifestReferences, manifests, repositoryBlobs, uploadSessions } from "@berth/db";
import { eq, inArray, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { deleteManifestByDigest } from "../src/oci/delete-manifest";
import { appendUpload, startUpload } from "../src/oci/uploads";
import { collectBlobs } from "../src/storage/gc";
import { purgeTrash } from "../src/trash/purge";
import { forFile, setup } from "./helpers";
import { pushVia, sha256, uploadVia } from "./push-helpers";

const env = await forFile(setup({ alice: ["alicens"] }));
const ctx = () => env.ctx(env.alice);

const upload = (repository: string, bytes: Buffer) => uploadVia(ctx, repository, bytes);
const push = (repository: string, tag: string, layers: Buffer[]) =>
  pushVia(ctx, repository, tag, layers);

async function hasRow(digest: string): Promise<boolean> {
  const rows = await env.t.db.select().from(blobs).where(eq(blobs.digest, digest));
  return rows.length === 1;
}
const hasFile = (digest: string) => existsSync(env.store.pathOf(digest));

describe("collectBlobs", () => {
  it("never collects a blob that is uploaded but not yet referenced by a manifest", async () => {
    const digest = await upload("alicens/pending", randomBytes(1000));
    const report = await collectBlobs(env.t.db, env.store, { graceMs: 0 });
    expect(report.removed).not.toContain(digest);
    expect(await hasRow(digest)).toBe(true);
    expect(hasFile(digest)).toBe(true);
  });

  it("collects the blobs of a deleted image once no repository uses them, after the grace period", async () => {
    const shared = randomBytes(2000);
    const own = randomBytes(3000);
    const first = await push("alicens/one", "v1", [own, shared]);
    await push("alicens/two", "v1", [shared]);
    await deleteManifestByDigest(ctx(), { repository: "alicens/one", reference: first.digest });
    const configBytes = await configSize(first.config);
    // The deleted manifest's blobs stay linked to its repository (as distribution keeps
    // them) until the links are older than the link TTL.
    await env.t.db
      .update(repositoryBlobs)
      .set({ createdAt: new Date(Date.now() - 8 * 86_400_000) })
      .where(inArray(repositoryBlobs.digest, [first.config, first.layers[0]!, sha256(shared)]));
    const early = await collectBlobs(env.t.db, env.store, { graceMs: 3_600_000 });
    expect(early.removed).toEqual([]);
    // The trash keeps them (issue 19) until it is emptied.
    expect((await collectBlobs(env.t.db, env.store, { graceMs: 0 })).removed).toEqual([]);
    await purgeTrash(ctx(), {});
    const report = await collectBlobs(env.t.db, env.store, { graceMs: 0 });
    expect(report.removed.sort()).toEqual([first.config, first.layers[0]!].sort());
    expect(report.bytes).toBe(own.length + configBytes);
    for (const d of report.removed) {
      expect(await hasRow(d)).toBe(false);
      expect(hasFile(d)).toBe(false);
    }
    expect(await hasRow(sha256(shared))).toBe(true);
    expect(hasFile(sha256(shared))).toBe(true);
  });

  it("unlinks blobs of a push that never finished once the link is older than its TTL", async () => {
    const digest = await upload("alicens/abandoned", randomBytes(500));
    await env.t.db
      .update(repositoryBlobs)
      .set({ createdAt: new Date(Date.now() - 8 * 86_400_000) })
      .where(eq(repositoryBlobs.digest, digest));
    const kept = await collectBlobs(env.t.db, env.store, {
      graceMs: 0,
      unreferencedLinkTtlMs: null,
    });
    expect(kept.unlinked).toBe(0);
    const report = await collectBlobs(env.t.db, env.store, { graceMs: 0 });
    expect(report.unlinked).toBe(1);
    expect(report.removed).toContain(digest);
    expect(hasFile(digest)).toBe(false);
  });

  it("removes abandoned uploads and files that have no record", async () => {
    const uploads = env.store.uploads();
    const stale = await startUpload(ctx(), { repository: "alicens/up" });
    await appendUpload(ctx(), { repository: "alicens/up", id: stale.id, source: randomBytes(100) });
    const fresh = await startUpload(ctx(), { repository: "alicens/up" });
    // Started long ago, but a chunk came in just now: still going.
    const active = await startUpload(ctx(), { repository: "alicens/up" });
    await appendUpload(ctx(), { repository: "alicens/up", id: active.id, source: randomBytes(10) });
    // Idle for two days: neither the session row nor its file changed since.
    const twoDays = new Date(Date.now() - 2 * 86_400_000);
    await env.t.db
      .update(uploadSessions)
      .set({ updatedAt: twoDays })
      .where(inArray(uploadSessions.id, [stale.id, active.id]));
    utimesSync(join(env.store.root, "uploads", stale.id), twoDays, twoDays);
    // An upload file whose session row is gone (a crash between the two).
    const lost = "01234567-89ab-7def-8123-456789abcdef";
    await uploads.create(lost);
    const old = new Date(Date.now() - 2 * 3_600_000);
    utimesSync(join(env.store.root, "uploads", lost), old, old);
    // Blob files without a row: one old (left by a crash), one fresh (a put in progress).
    const orphan = await env.store.put(randomBytes(64));
    utimesSync(env.store.pathOf(orphan.digest), old, old);
    const young = await env.store.put(randomBytes(64));

    const report = await collectBlobs(env.t.db, env.store);
    expect(report.abandonedUploads).toBe(2);
    expect(report.orphanFiles).toBe(1);
    expect(await uploads.size(stale.id, {})).toBeNull();
    expect(await uploads.size(lost, {})).toBeNull();
    expect(await uploads.size(fresh.id, {})).toBe(0);
    expect(await uploads.size(active.id, {})).toBe(10);
    expect(hasFile(orphan.digest)).toBe(false);
    expect(hasFile(young.digest)).toBe(true);
    const rows = await env.t.db
      .select()
      .from(uploadSessions)
      .where(eq(uploadSessions.id, stale.id));
    expect(rows).toEqual([]);
  });

  it("keeps every image complete while it runs over and over beside pushes and deletes", async () => {
    let stop = false;
    let rounds = 0;
    const gc = (async () => {
      while (!stop) {
        // No grace at all: only the locks keep the uploads of the pushes safe.
        await collectBlobs(env.t.db, env.store, { graceMs: 0 });
        rounds++;
      }
    })();
    const shared = randomBytes(4000);
    const pushes: Promise<unknown>[] = [];
    for (let worker = 0; worker < 3; worker++) {
      pushes.push(
        (async () => {
          let previous: string | undefined;
          for (let i = 0; i < 6; i++) {
            const repository = `alicens/race${worker}`;
            const pushed = await push(repository, `t${i}`, [shared, randomBytes(1000)]);
            if (previous) await deleteManifestByDigest(ctx(), { repository, reference: previous });
            previous = pushed.digest;
          }
        })(),
      );
    }
    try {
      await Promise.all(pushes);
    } finally {
      stop = true;
      await gc;
    }
    expect(rounds).toBeGreaterThan(0);
    await collectBlobs(env.t.db, env.store, { graceMs: 0 });
    const refs = await env.t.db
      .select({ digest: manifestReferences.digest })
      .from(manifestReferences)
      .innerJoin(manifests, eq(manifests.id, manifestReferences.manifestId))
      .where(sql`${manifestReferences.kind} <> 'manifest'`);
    expect(refs.length).toBeGreaterThan(0);
    for (const { digest } of refs) {
      expect(await hasRow(digest), digest).toBe(true);
      expect(hasFile(digest), digest).toBe(true);
    }
  });
});

async function configSize(digest: string): Promise<number> {
  const [row] = await env.t.db
    .select({ size: blobs.size })
    .from(blobs)
    .where(eq(blobs.digest, digest));
  return row!.size;
}
