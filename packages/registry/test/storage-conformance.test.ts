import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Moto, startMoto } from "../src/moto";
import {
  BlobNotFoundError,
  type BlobStore,
  DigestMismatchError,
  InvalidRangeError,
  readBlob,
  SizeMismatchError,
} from "../src/storage/blob-store";
import { openBlobStore, parseStorageSpec, StorageSpecError } from "../src/storage/factory";
import { MIN_PART_BYTES } from "../src/storage/s3-uploads";
import { UploadNotFoundError, UploadOffsetError } from "../src/storage/uploads";

// One suite every blob store driver passes (after distribution's storage driver suite):
// what the registry relies on, through the BlobStore interface only. `reopen` gives a second
// instance on the same storage that shares no memory with the first, as another server
// process would be.

const sha = (algorithm: string, b: Uint8Array) =>
  `${algorithm}:${createHash(algorithm).update(b).digest("hex")}`;

async function bytesOf(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

/** A stream that sends `bytes`, then fails: a client gone midway through a chunk. */
function cutOff(bytes: Buffer): Readable {
  return new Readable({
    read() {
      this.push(bytes);
      this.destroy(new Error("client went away"));
    },
  });
}

interface Driver {
  open(): Promise<{ store: BlobStore; reopen: () => Promise<BlobStore> }>;
  /** Bytes in a chunk big enough to make the driver use its own parts (S3: 5 MiB). */
  big: number;
}

function conformance(name: string, driver: () => Driver) {
  describe(`blob store conformance: ${name}`, () => {
    it("puts, gets, stats, lists and deletes by digest; verifies what it is told to expect", async () => {
      const { store } = await driver().open();
      const bytes = randomBytes(70_000);
      const digest = sha("sha256", bytes);
      expect(await store.stat(digest)).toBeNull();
      await expect(store.get(digest)).rejects.toBeInstanceOf(BlobNotFoundError);
      const info = await store.put(Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]));
      expect(info).toEqual({ digest, size: bytes.length });
      expect((await readBlob(store, digest)).equals(bytes)).toBe(true);
      const stat = await store.stat(digest);
      expect(stat).toMatchObject({ digest, size: bytes.length });
      expect(stat!.modifiedAt).toBeInstanceOf(Date);
      expect(await all(store.list())).toEqual([digest]);
      // Again: a no-op that still verifies.
      expect(await store.put(bytes, { expectedDigest: digest })).toEqual(info);
      const other = randomBytes(100);
      await expect(store.put(other, { expectedDigest: digest })).rejects.toBeInstanceOf(
        DigestMismatchError,
      );
      await expect(
        store.put(other, { expectedDigest: sha("sha256", other), expectedSize: 99 }),
      ).rejects.toBeInstanceOf(SizeMismatchError);
      expect(await store.stat(sha("sha256", other))).toBeNull();
      const long = await store.put(other, { algorithm: "sha512" });
      expect(long.digest).toBe(sha("sha512", other));
      expect(await store.delete(digest)).toBe(true);
      expect(await store.delete(digest)).toBe(false);
      expect(await store.stat(digest)).toBeNull();
      expect(await all(store.list())).toEqual([long.digest]);
      const empty = await store.put(new Uint8Array());
      expect(empty.size).toBe(0);
      expect((await readBlob(store, empty.digest)).length).toBe(0);
    });

    it("reads inclusive byte ranges and refuses ranges outside the blob", async () => {
      const { store } = await driver().open();
      const bytes = randomBytes(10_000);
      const { digest } = await store.put(bytes);
      expect(
        (await bytesOf(await store.get(digest, { start: 0, end: 0 }))).equals(bytes.subarray(0, 1)),
      ).toBe(true);
      expect(
        (await bytesOf(await store.get(digest, { start: 9_000 }))).equals(bytes.subarray(9_000)),
      ).toBe(true);
      expect(
        (await bytesOf(await store.get(digest, { start: 100, end: 199 }))).equals(
          bytes.subarray(100, 200),
        ),
      ).toBe(true);
      for (const range of [
        { start: 10_000 },
        { start: 5, end: 4 },
        { start: 0, end: 10_000 },
        { start: -1 },
      ]) {
        await expect(store.get(digest, range), JSON.stringify(range)).rejects.toBeInstanceOf(
          InvalidRangeError,
        );
      }
      await expect(
        store.get(sha("sha256", Buffer.from("absent")), { start: 0 }),
      ).rejects.toBeInstanceOf(BlobNotFoundError);
    });

    it("keeps chunked uploads invisible until sealed and published, at the right offsets", async () => {
      const d = driver();
      const { store } = await d.open();
      const uploads = store.uploads();
      expect(store.uploads()).toBe(uploads);
      const id = randomUUID();
      const state = await uploads.create(id);
      expect(await uploads.size(id, state)).toBe(0);
      const bytes = randomBytes(d.big + 3_000);
      const parts = [
        bytes.subarray(0, 1_000),
        bytes.subarray(1_000, d.big + 1_000),
        bytes.subarray(d.big + 1_000),
      ];
      let offset = 0;
      for (const part of parts) {
        await expect(uploads.append(id, part, offset + 1, state)).rejects.toBeInstanceOf(
          UploadOffsetError,
        );
        offset = await uploads.append(id, Readable.from([part]), offset, state);
        expect(await uploads.size(id, state)).toBe(offset);
      }
      const digest = sha("sha256", bytes);
      expect(await store.stat(digest)).toBeNull();
      await expect(uploads.seal(id, sha("sha256", Buffer.from("x")), state)).rejects.toBeInstanceOf(
        DigestMismatchError,
      );
      expect(await store.stat(digest)).toBeNull();
      await expect(uploads.seal(id, digest, state, bytes.length - 1)).rejects.toBeInstanceOf(
        SizeMismatchError,
      );
      expect(await uploads.seal(id, digest, state)).toEqual({ digest, size: bytes.length });
      expect(await uploads.publish(id, digest, state)).toEqual({ digest, size: bytes.length });
      expect((await readBlob(store, digest)).equals(bytes)).toBe(true);
      // Nothing of the upload is left behind (the caller drops its state with its row).
      expect(await all(uploads.list())).toEqual([]);
      expect(await uploads.abort(id)).toBe(false);
      // Ids are the store's own shape: anything else is simply unknown.
      expect(await uploads.size("../../blobs", {})).toBeNull();
      await expect(uploads.append("../../blobs", bytes, 0, {})).rejects.toBeInstanceOf(
        UploadNotFoundError,
      );
    });

    it("leaves an upload as it was when a chunk is cut off midway", async () => {
      const d = driver();
      const { store } = await d.open();
      const uploads = store.uploads();
      const id = randomUUID();
      const state = await uploads.create(id);
      const first = randomBytes(2_000);
      await uploads.append(id, first, 0, state);
      const kept = JSON.stringify(state);
      await expect(
        uploads.append(id, cutOff(randomBytes(d.big + 10)), 2_000, state),
      ).rejects.toThrow();
      expect(JSON.stringify(state)).toBe(kept);
      expect(await uploads.size(id, state)).toBe(2_000);
      const rest = randomBytes(d.big + 500);
      expect(await uploads.append(id, rest, 2_000, state)).toBe(2_000 + rest.length);
      const whole = Buffer.concat([first, rest]);
      const digest = sha("sha256", whole);
      await uploads.seal(id, digest, state);
      await uploads.publish(id, digest, state);
      expect((await readBlob(store, digest)).equals(whole)).toBe(true);
    });

    it("resumes an upload in another instance (another process) and verifies it there", async () => {
      const d = driver();
      const { store, reopen } = await d.open();
      const id = randomUUID();
      // The state travels as the database row carries it: JSON, nothing shared in memory.
      let row = JSON.stringify(await store.uploads().create(id));
      const bytes = randomBytes(d.big * 2 + 77);
      const cut = [0, 5_000, d.big + 5_000, bytes.length];
      // Chunks alternate between two instances that share nothing but the storage.
      const a = store.uploads();
      const b = (await reopen()).uploads();
      for (let i = 0; i + 1 < cut.length; i++) {
        const state = JSON.parse(row);
        await (i % 2 === 0 ? a : b).append(id, bytes.subarray(cut[i], cut[i + 1]), cut[i]!, state);
        row = JSON.stringify(state);
      }
      const c = (await reopen()).uploads();
      const state = JSON.parse(row);
      expect(await c.size(id, state)).toBe(bytes.length);
      expect((await all(c.list())).map((u) => u.id)).toContain(id);
      const digest = sha("sha256", bytes);
      await expect(c.seal(id, sha("sha256", bytes.subarray(1)), state)).rejects.toBeInstanceOf(
        DigestMismatchError,
      );
      await c.seal(id, digest, state);
      await c.publish(id, digest, state);
      expect((await readBlob(store, digest)).equals(bytes)).toBe(true);
      // sha512 has no running hash anywhere: always read back.
      const id2 = randomUUID();
      const state2 = await a.create(id2);
      await a.append(id2, bytes.subarray(0, 100), 0, state2);
      await b.seal(id2, sha("sha512", bytes.subarray(0, 100)), state2);
      await b.publish(id2, sha("sha512", bytes.subarray(0, 100)), state2);
      expect(
        (await readBlob(store, sha("sha512", bytes.subarray(0, 100)))).equals(
          bytes.subarray(0, 100),
        ),
      ).toBe(true);
    });

    it("lets concurrent writers of the same digest all succeed with one intact blob", async () => {
      const d = driver();
      const { store, reopen } = await d.open();
      const other = await reopen();
      const bytes = randomBytes(d.big + 1_234);
      const digest = sha("sha256", bytes);
      const viaUpload = async (s: BlobStore) => {
        const id = randomUUID();
        const state = await s.uploads().create(id);
        await s.uploads().append(id, bytes, 0, state);
        await s.uploads().seal(id, digest, state);
        return s.uploads().publish(id, digest, state);
      };
      const results = await Promise.all([
        viaUpload(store),
        viaUpload(other),
        store.put(bytes, { expectedDigest: digest }),
        other.put(Readable.from([bytes]), { expectedDigest: digest }),
      ]);
      for (const r of results) expect(r).toEqual({ digest, size: bytes.length });
      expect((await readBlob(other, digest)).equals(bytes)).toBe(true);
      expect(await all(store.list())).toEqual([digest]);
    });

    it("lists uploads with their last write and forgets aborted ones (what GC uses)", async () => {
      const d = driver();
      const { store } = await d.open();
      const uploads = store.uploads();
      const id = randomUUID();
      const before = Date.now() - 60_000;
      await uploads.create(id);
      await uploads.append(id, randomBytes(d.big), 0, {});
      const listed = await all(uploads.list());
      expect(listed.map((u) => u.id)).toEqual([id]);
      expect(listed[0]!.modifiedAt.getTime()).toBeGreaterThan(before);
      // Without its state (GC of an upload nobody owns), the driver finds what is left.
      expect(await uploads.abort(id)).toBe(true);
      expect(await uploads.abort(id)).toBe(false);
      expect(await all(uploads.list())).toEqual([]);
    });
  });
}

conformance("files", () => ({
  big: 300_000,
  async open() {
    const root = mkdtempSync(join(tmpdir(), "berth-conf-"));
    const store = await openBlobStore({ spec: root, dataDir: "/nonexistent" });
    return { store, reopen: () => openBlobStore({ spec: `file://${root}`, dataDir: "/x" }) };
  },
}));

let moto: Moto;
beforeAll(async () => {
  moto = await startMoto();
}, 60_000);
afterAll(async () => {
  await moto?.stop();
});

conformance("s3 (moto_server)", () => ({
  big: MIN_PART_BYTES + 1,
  async open() {
    const bucket = await moto.bucket();
    const spec = `s3://${bucket}/some/prefix`;
    const open = () => openBlobStore({ spec, dataDir: "/x", env: moto.env });
    return { store: await open(), reopen: open };
  },
}));

describe("openBlobStore", () => {
  it("refuses a missing bucket or a malformed setting at start, with the reason", async () => {
    await expect(
      openBlobStore({ spec: "s3://no-such-bucket-here/x", dataDir: "/x", env: moto.env }),
    ).rejects.toThrow(/bucket no-such-bucket-here does not exist/);
    for (const spec of ["s3://", "s3://UPPER/x", "relative/dir", "s3://ok-bucket/../x"]) {
      expect(() => parseStorageSpec(spec, "/d"), spec).toThrow(StorageSpecError);
    }
    expect(parseStorageSpec(undefined, "/d")).toEqual({ kind: "fs", root: "/d/blobs" });
    expect(parseStorageSpec("s3://b-1/a//b/", "/d")).toEqual({
      kind: "s3",
      bucket: "b-1",
      prefix: "a/b",
    });
  });

  it("gives S3 stores a presigned GET that serves the blob, and none when redirects are off", async () => {
    const bucket = await moto.bucket();
    const store = await openBlobStore({ spec: `s3://${bucket}`, dataDir: "/x", env: moto.env });
    const bytes = randomBytes(1_000);
    const { digest } = await store.put(bytes);
    const url = await store.presign!(digest, { expiresInSeconds: 60 });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    const off = await openBlobStore({
      spec: `s3://${bucket}`,
      dataDir: "/x",
      env: moto.env,
      redirects: false,
    });
    expect(off.presign).toBeUndefined();
    const files = await openBlobStore({
      spec: undefined,
      dataDir: mkdtempSync(join(tmpdir(), "b-")),
    });
    expect(files.presign).toBeUndefined();
  });
});
