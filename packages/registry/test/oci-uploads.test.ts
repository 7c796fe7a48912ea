import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import type { BlobStore } from "../src/storage/blob-store";
import { DigestMismatchError, SizeMismatchError } from "../src/storage/blob-store";
import { FsBlobStore } from "../src/storage/fs-blob-store";
import { FsUploadStore } from "../src/storage/fs-uploads";
import { UploadNotFoundError, UploadOffsetError } from "../src/storage/uploads";

const sha = (algorithm: "sha256" | "sha512", bytes: Buffer) =>
  `${algorithm}:${createHash(algorithm).update(bytes).digest("hex")}`;

/** A blob store, an upload store over it and the id of a new upload there. */
async function newUpload() {
  const blobs = new FsBlobStore(mkdtempSync(join(tmpdir(), "berth-up-")));
  const uploads = new FsUploadStore(join(blobs.root, "uploads"), blobs);
  const id = randomUUID();
  await uploads.create(id);
  return { blobs, uploads, id };
}

/** A stream that yields some bytes, then fails as a dropped connection does. */
function cutOff(bytes: Buffer): Readable {
  return new Readable({
    read() {
      this.push(bytes);
      setImmediate(() => this.destroy(new Error("aborted")));
    },
  });
}

describe("FsUploadStore", () => {
  it("appends chunks in order, hashing as they stream, and publishes by rename", async () => {
    const { blobs, uploads, id } = await newUpload();
    const parts = [randomBytes(70_000), randomBytes(1), randomBytes(300_000)];
    let offset = 0;
    for (const part of parts) {
      offset = await uploads.append(id, Readable.from([part]), offset);
    }
    const whole = Buffer.concat(parts);
    expect(await uploads.size(id)).toBe(whole.length);
    const digest = sha("sha256", whole);
    expect(await uploads.seal(id, digest, {}, whole.length)).toEqual({
      digest,
      size: whole.length,
    });
    await uploads.publish(id, digest);
    expect(readFileSync(blobs.pathOf(digest)).equals(whole)).toBe(true);
    expect(await uploads.size(id)).toBeNull();
    expect(existsSync(join(uploads.dir, id))).toBe(false);
  });

  it("refuses a chunk that does not start where the upload ends, changing nothing", async () => {
    const { uploads, id } = await newUpload();
    await uploads.append(id, Buffer.from("abc"), 0);
    await expect(uploads.append(id, Buffer.from("def"), 5)).rejects.toBeInstanceOf(
      UploadOffsetError,
    );
    await expect(uploads.append(id, Buffer.from("def"), 0)).rejects.toBeInstanceOf(
      UploadOffsetError,
    );
    expect(await uploads.size(id)).toBe(3);
    await expect(uploads.append(randomUUID(), Buffer.from("x"), 0)).rejects.toBeInstanceOf(
      UploadNotFoundError,
    );
    await expect(uploads.size("../../etc/passwd")).resolves.toBeNull();
  });

  it("undoes a chunk cut off midway, bytes and running hash", async () => {
    const { uploads, id } = await newUpload();
    const first = randomBytes(1000);
    await uploads.append(id, first, 0);
    await expect(uploads.append(id, cutOff(randomBytes(5000)), 1000)).rejects.toThrow("aborted");
    expect(await uploads.size(id)).toBe(1000);
    const second = randomBytes(2000);
    await uploads.append(id, second, 1000);
    const whole = Buffer.concat([first, second]);
    expect((await uploads.seal(id, sha("sha256", whole))).size).toBe(3000);
  });

  it("resumes after a restart: a new instance continues and re-hashes the stored bytes", async () => {
    const { blobs, uploads, id } = await newUpload();
    const first = randomBytes(4000);
    await uploads.append(id, first, 0);
    const restarted = new FsUploadStore(uploads.dir, blobs);
    expect(await restarted.size(id)).toBe(4000);
    const second = randomBytes(4000);
    await restarted.append(id, second, 4000);
    const whole = Buffer.concat([first, second]);
    await expect(restarted.seal(id, sha("sha256", randomBytes(8)))).rejects.toBeInstanceOf(
      DigestMismatchError,
    );
    const digest = sha("sha256", whole);
    await restarted.seal(id, digest);
    await restarted.publish(id, digest);
    expect(readFileSync(blobs.pathOf(digest)).equals(whole)).toBe(true);
  });

  it("verifies sha512 digests and expected sizes", async () => {
    const { blobs, uploads, id } = await newUpload();
    const bytes = randomBytes(10_000);
    await uploads.append(id, bytes, 0);
    await expect(uploads.seal(id, sha("sha512", bytes), {}, 9_999)).rejects.toBeInstanceOf(
      SizeMismatchError,
    );
    const digest = sha("sha512", bytes);
    await uploads.seal(id, digest);
    await uploads.publish(id, digest);
    expect(await blobs.stat(digest)).toMatchObject({ digest, size: 10_000 });
  });

  it("streams into any other blob store, which verifies the bytes again", async () => {
    const fs = new FsBlobStore(mkdtempSync(join(tmpdir(), "berth-up-")));
    // A store that is not an FsBlobStore (as an S3 driver would be).
    const other: BlobStore = {
      put: (s, o) => fs.put(s, o),
      get: (d, r) => fs.get(d, r),
      stat: (d) => fs.stat(d),
      delete: (d) => fs.delete(d),
      list: () => fs.list(),
      uploads: () => uploads,
      description: "a wrapper",
    };
    const uploads = new FsUploadStore(mkdtempSync(join(tmpdir(), "berth-up-")), other);
    const id = randomUUID();
    await uploads.create(id);
    const bytes = randomBytes(50_000);
    await uploads.append(id, bytes, 0);
    const digest = sha("sha256", bytes);
    await uploads.seal(id, digest);
    await uploads.publish(id, digest);
    expect(await fs.stat(digest)).toMatchObject({ digest, size: 50_000 });
    await uploads.abort(id);
  });

  it("lists uploads with their last write", async () => {
    const { uploads, id } = await newUpload();
    const old = new Date(Date.now() - 3_600_000);
    utimesSync(join(uploads.dir, id), old, old);
    const listed = [];
    for await (const u of uploads.list()) listed.push(u);
    expect(listed).toEqual([{ id, modifiedAt: old }]);
    expect(await uploads.abort(id)).toBe(true);
    expect(await uploads.abort(id)).toBe(false);
  });
});
