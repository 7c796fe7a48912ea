import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { repositoryBlobs } from "@berth/db";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CreatedAccount, createAccount } from "../src/accounts/accounts";
import { type Moto, startMoto } from "../src/moto";
import { createNamespace } from "../src/namespaces/create";
import { deleteManifestByDigest } from "../src/oci/delete-manifest";
import { appendUpload, finishUpload, startUpload } from "../src/oci/uploads";
import { type BlobStore, readBlob } from "../src/storage/blob-store";
import { openBlobStore } from "../src/storage/factory";
import { collectBlobs } from "../src/storage/gc";
import { apiKeyPrincipal, testContext } from "../src/testing";
import { purgeTrash } from "../src/trash/purge";
import { pushVia, sha256 } from "./push-helpers";

// Garbage collection with the database against an S3 bucket (moto_server): what it deletes
// goes from the bucket, what a manifest or the trash still references stays, an upload a
// request is writing is left alone however old its last chunk, and an abandoned one goes
// with its multipart upload.

const MiB = 1024 * 1024;
let t: TestDatabase;
let moto: Moto;
let bucket: string;
let store: BlobStore;
let alice: CreatedAccount;
let n = 0;
const ctx = () =>
  testContext({
    db: t.db,
    store,
    principal: apiKeyPrincipal(alice.account, alice.user),
    region: "us-south",
    requestId: `gc-s3-${++n}`,
  });
const blobKey = (digest: string) => `gc/blobs/sha256/${digest.slice("sha256:".length)}`;

beforeAll(async () => {
  moto = await startMoto();
  bucket = await moto.bucket();
  store = await openBlobStore({ spec: `s3://${bucket}/gc`, dataDir: "/x", env: moto.env });
  t = await createTestDatabase();
  alice = await createAccount(t.db, { name: "alice" });
  await createNamespace(ctx(), { name: "alicens" });
}, 120_000);

afterAll(async () => {
  await moto?.stop();
  await t?.drop();
});

const push = (repository: string, layers: Buffer[]) => pushVia(ctx, repository, "v1", layers);

describe("garbage collection on S3", () => {
  it("deletes unreferenced blobs from the bucket and keeps referenced, trashed and in-progress ones", async () => {
    const shared = randomBytes(6 * MiB + 1);
    const own = randomBytes(3000);
    const first = await push("alicens/one", [own, shared]);
    const second = await push("alicens/two", [shared]);
    // Two uploads, both silent for two days (the collector is run two days ahead): one a
    // request still holds (a slow client's long chunk), one abandoned. Each has a multipart
    // part and a tail in the bucket.
    const bytes = [randomBytes(5 * MiB + 10), randomBytes(5 * MiB + 20)];
    const started = await Promise.all(
      bytes.map(async (source) => {
        const { id } = await startUpload(ctx(), { repository: "alicens/one" });
        // Two pieces: a whole part, then a tail object of what is left.
        const pieces = Readable.from([source.subarray(0, 5 * MiB), source.subarray(5 * MiB)]);
        await appendUpload(ctx(), { repository: "alicens/one", id, source: pieces });
        return id;
      }),
    );
    const [held, abandoned] = started as [string, string];
    await t.db.execute(sql`
      update upload_sessions set writer = gen_random_uuid(), writer_until = now() + interval '1 hour'
       where id = ${held}`);

    await deleteManifestByDigest(ctx(), { repository: "alicens/one", reference: first.digest });
    await t.db
      .update(repositoryBlobs)
      .set({ createdAt: new Date(Date.now() - 8 * 86_400_000) })
      .where(
        eq(
          repositoryBlobs.repositoryId,
          sql`(select id from repositories where name = 'alicens/one')`,
        ),
      );
    // In the trash: kept.
    const later = () => new Date(Date.now() + 2 * 86_400_000);
    const trashed = await collectBlobs(t.db, store, { graceMs: 0, now: later });
    expect(trashed.removed).toEqual([]);
    expect(trashed.abandonedUploads).toBe(1);
    for (const d of [first.config, ...first.layers]) {
      expect(await store.stat(d), `trashed ${d}`).not.toBeNull();
    }
    const uploadKeys = async (id: string) => moto.keys(bucket, `gc/uploads/${id}/`);
    expect(await uploadKeys(abandoned)).toEqual([]);
    expect(await uploadKeys(held)).not.toEqual([]);

    await purgeTrash(ctx(), {});
    const report = await collectBlobs(t.db, store, { graceMs: 0 });
    expect(report.removed.sort()).toEqual([first.config, sha256(own)].sort());
    const keys = await moto.keys(bucket, "gc/blobs/");
    for (const d of report.removed) expect(keys, `deleted ${d}`).not.toContain(blobKey(d));
    // Image two's blobs, the shared layer among them, are still referenced.
    for (const d of [second.config, ...second.layers]) expect(keys).toContain(blobKey(d));

    // The held upload was not touched: once its request lets go, it finishes, whole.
    await t.db.execute(
      sql`update upload_sessions set writer = null, writer_until = null where id = ${held}`,
    );
    const rest = randomBytes(1000);
    const whole = Buffer.concat([bytes[0]!, rest]);
    const done = await finishUpload(ctx(), {
      repository: "alicens/one",
      id: held,
      digest: sha256(whole),
      source: rest,
    });
    expect(done).toEqual({ digest: sha256(whole), size: whole.length });
    expect((await readBlob(store, done.digest)).equals(whole)).toBe(true);
  }, 300_000);
});
