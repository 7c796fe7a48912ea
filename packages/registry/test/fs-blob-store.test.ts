import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { beforeEach, describe, expect, it } from "vitest";
import {
  BlobNotFoundError,
  DigestMismatchError,
  InvalidRangeError,
  readBlob,
  SizeMismatchError,
} from "../src/storage/blob-store";
import { FsBlobStore } from "../src/storage/fs-blob-store";

const sha256 = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const sha512 = (b: Uint8Array) => `sha512:${createHash("sha512").update(b).digest("hex")}`;

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString();
}

let store: FsBlobStore;
beforeEach(() => {
  store = new FsBlobStore(mkdtempSync(join(tmpdir(), "berth-blobs-")));
});

describe("FsBlobStore", () => {
  it("stores by content digest, streaming, and reads back whole or by range", async () => {
    const bytes = Buffer.from("hello, berth");
    const chunks = Readable.from([bytes.subarray(0, 5), bytes.subarray(5)]);
    const info = await store.put(chunks);
    expect(info).toEqual({ digest: sha256(bytes), size: bytes.length });
    expect(await text(await store.get(info.digest))).toBe("hello, berth");
    expect(await text(await store.get(info.digest, { start: 7 }))).toBe("berth");
    expect(await text(await store.get(info.digest, { start: 0, end: 4 }))).toBe("hello");
    expect(await store.stat(info.digest)).toMatchObject(info);
    expect(store.pathOf(info.digest)).toContain(join("blobs", "sha256", info.digest.slice(7, 9)));
  });

  it("refuses bytes that do not match the expected digest or size, keeping nothing", async () => {
    const bytes = Buffer.from("payload");
    const wrong = sha256(Buffer.from("other"));
    await expect(store.put(bytes, { expectedDigest: wrong })).rejects.toBeInstanceOf(
      DigestMismatchError,
    );
    await expect(store.put(bytes, { expectedSize: 3 })).rejects.toBeInstanceOf(SizeMismatchError);
    expect(await store.stat(wrong)).toBeNull();
    expect(await store.stat(sha256(bytes))).toBeNull();
    expect(readdirSync(store.tmpDir)).toEqual([]);
    const ok = await store.put(bytes, { expectedDigest: sha256(bytes), expectedSize: 7 });
    expect(ok.digest).toBe(sha256(bytes));
  });

  it("hashes with the algorithm of the expected digest", async () => {
    const bytes = Buffer.from("sha512 please");
    const info = await store.put(bytes, { expectedDigest: sha512(bytes) });
    expect(info.digest).toBe(sha512(bytes));
    expect((await readBlob(store, info.digest)).toString()).toBe("sha512 please");
  });

  it("stores identical content once, even when written concurrently", async () => {
    const bytes = Buffer.alloc(256 * 1024, 7);
    const results = await Promise.all(Array.from({ length: 8 }, () => store.put(bytes)));
    expect(new Set(results.map((r) => r.digest)).size).toBe(1);
    const listed: string[] = [];
    for await (const d of store.list()) listed.push(d);
    expect(listed).toEqual([sha256(bytes)]);
    expect((await readBlob(store, sha256(bytes))).equals(bytes)).toBe(true);
  });

  it("reports missing blobs and bad ranges, and deletes", async () => {
    const missing = sha256(Buffer.from("missing"));
    await expect(store.get(missing)).rejects.toBeInstanceOf(BlobNotFoundError);
    const info = await store.put(Buffer.from("abc"));
    await expect(store.get(info.digest, { start: 2, end: 3 })).rejects.toBeInstanceOf(
      InvalidRangeError,
    );
    expect(await store.delete(info.digest)).toBe(true);
    expect(await store.delete(info.digest)).toBe(false);
    expect(await store.stat(info.digest)).toBeNull();
    expect(() => store.pathOf("sha256:../../etc/passwd")).toThrow(/invalid digest/);
  });
});
