import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DIGEST_ALGORITHMS } from "@berth/core";
import type { UploadStore } from "./blob-store";
import {
  type BlobInfo,
  BlobNotFoundError,
  type BlobSource,
  type BlobStore,
  type ByteRange,
  DigestMismatchError,
  InvalidRangeError,
  type PutOptions,
  SizeMismatchError,
  type StoredBlob,
  splitDigest,
} from "./blob-store";
import { FsUploadStore } from "./fs-uploads";

/**
 * Reads of 1 MiB: a 50 MB layer leaves in about fifty event-loop turns instead of eight
 * hundred with the 64 KiB default, which is most of the cost of serving it.
 */
const READ_HIGH_WATER_MARK = 1024 * 1024;

/**
 * Blobs as files under `root`:
 *
 *     root/blobs/<algorithm>/<first two hex>/<hex>   complete, verified blobs
 *     root/tmp/                                      blobs being written
 *
 * A put writes a temporary file while hashing, fsyncs it, checks the digest and renames
 * it into place. Rename is atomic on one filesystem, so a blob path either does not exist
 * or holds the complete bytes, even after a crash; leftovers in tmp/ are garbage.
 */
export class FsBlobStore implements BlobStore {
  readonly blobsDir: string;
  readonly tmpDir: string;
  readonly description: string;
  private readonly uploadArea: FsUploadStore;

  constructor(readonly root: string) {
    this.blobsDir = join(root, "blobs");
    this.tmpDir = join(root, "tmp");
    this.description = `files under ${root}`;
    // Uploads live on the same filesystem, so publishing one is a rename into the blob tree.
    this.uploadArea = new FsUploadStore(join(root, "uploads"), this, (path, digest) =>
      this.adopt(path, digest),
    );
  }

  uploads(): UploadStore {
    return this.uploadArea;
  }

  /** Move a verified, flushed file of the same filesystem into place as blob `digest`. */
  private async adopt(path: string, digest: string): Promise<void> {
    const destination = this.pathOf(digest);
    // Same digest, same bytes: renaming over an existing blob is harmless. The folder is
    // made only when missing (one of 256 per algorithm), not before every rename.
    await rename(path, destination).catch(async (error: unknown) => {
      if (!isNotFound(error)) throw error;
      await mkdir(dirname(destination), { recursive: true });
      await rename(path, destination);
    });
    await fsyncDir(dirname(destination));
  }

  /** Path of a blob's file (whether or not it exists). */
  pathOf(digest: string): string {
    const { algorithm, hex } = splitDigest(digest);
    return join(this.blobsDir, algorithm, hex.slice(0, 2), hex);
  }

  async put(source: BlobSource, options: PutOptions = {}): Promise<BlobInfo> {
    const algorithm = options.expectedDigest
      ? splitDigest(options.expectedDigest).algorithm
      : (options.algorithm ?? "sha256");
    await mkdir(this.tmpDir, { recursive: true });
    const tmp = join(this.tmpDir, `${Date.now()}-${randomBytes(8).toString("hex")}`);
    const hash = createHash(algorithm);
    let size = 0;
    try {
      const counted = async function* (input: AsyncIterable<Uint8Array>) {
        for await (const chunk of input) {
          const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
          hash.update(bytes);
          size += bytes.length;
          yield bytes;
        }
      };
      const input = source instanceof Uint8Array ? Readable.from([source]) : source;
      await pipeline(input, counted, createWriteStream(tmp, { flags: "wx" }));
      const digest = `${algorithm}:${hash.digest("hex")}`;
      if (options.expectedDigest && options.expectedDigest !== digest) {
        throw new DigestMismatchError(options.expectedDigest, digest);
      }
      if (options.expectedSize !== undefined && options.expectedSize !== size) {
        throw new SizeMismatchError(options.expectedSize, size);
      }
      await fsyncFile(tmp);
      const target = this.pathOf(digest);
      await mkdir(dirname(target), { recursive: true });
      // Renaming over an existing blob is harmless: same digest, same bytes.
      await rename(tmp, target);
      await fsyncDir(dirname(target));
      return { digest, size };
    } catch (error) {
      await rm(tmp, { force: true });
      throw error;
    }
  }

  /**
   * The file is opened first, so a missing blob is an error here rather than in the middle
   * of a response.
   */
  async get(digest: string, range?: ByteRange): Promise<Readable> {
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      fh = await open(this.pathOf(digest), "r");
    } catch (error) {
      if (isNotFound(error)) throw new BlobNotFoundError(digest);
      throw error;
    }
    if (!range) return createReadStream("", { fd: fh, highWaterMark: READ_HIGH_WATER_MARK });
    let size: number;
    try {
      size = (await fh.stat()).size;
      checkRange(digest, range, size);
    } catch (error) {
      await fh.close();
      throw error;
    }
    return createReadStream("", {
      fd: fh,
      highWaterMark: READ_HIGH_WATER_MARK,
      start: range.start,
      end: range.end ?? size - 1,
    });
  }

  async stat(digest: string): Promise<StoredBlob | null> {
    try {
      const s = await stat(this.pathOf(digest));
      return { digest, size: s.size, modifiedAt: s.mtime };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  async delete(digest: string): Promise<boolean> {
    try {
      await unlink(this.pathOf(digest));
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  async *list(): AsyncIterable<string> {
    for (const algorithm of Object.keys(DIGEST_ALGORITHMS)) {
      for (const prefix of await readdirOrEmpty(join(this.blobsDir, algorithm))) {
        for (const hex of await readdirOrEmpty(join(this.blobsDir, algorithm, prefix))) {
          yield `${algorithm}:${hex}`;
        }
      }
    }
  }
}

/** Refuse a range outside a blob of `size` bytes (`InvalidRangeError`). */
export function checkRange(digest: string, range: ByteRange, size: number): void {
  const end = range.end ?? size - 1;
  if (
    !Number.isInteger(range.start) ||
    !Number.isInteger(end) ||
    range.start < 0 ||
    end < range.start ||
    end >= size
  ) {
    throw new InvalidRangeError(
      `range ${range.start}-${range.end ?? ""} is outside blob ${digest} of ${size} bytes`,
    );
  }
}

async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Persist the rename itself; some filesystems refuse fsync on directories, which is fine. */
async function fsyncDir(path: string): Promise<void> {
  try {
    await fsyncFile(path);
  } catch {
    // best effort
  }
}

async function readdirOrEmpty(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if (isNotFound(error)) return [];
    throw error;
  }
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown })?.code === "ENOENT";
}
