import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { DIGEST_ALGORITHMS } from "@berth/core";
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
  splitDigest,
} from "./blob-store";

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

  constructor(readonly root: string) {
    this.blobsDir = join(root, "blobs");
    this.tmpDir = join(root, "tmp");
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

  async get(digest: string, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(digest);
    const info = await this.stat(digest);
    if (!info) throw new BlobNotFoundError(digest);
    if (!range) return createReadStream(path);
    const end = range.end ?? info.size - 1;
    if (
      !Number.isInteger(range.start) ||
      !Number.isInteger(end) ||
      range.start < 0 ||
      end < range.start ||
      end >= info.size
    ) {
      throw new InvalidRangeError(
        `range ${range.start}-${range.end ?? ""} is outside blob ${digest} of ${info.size} bytes`,
      );
    }
    return createReadStream(path, { start: range.start, end });
  }

  async stat(digest: string): Promise<BlobInfo | null> {
    try {
      const s = await stat(this.pathOf(digest));
      return { digest, size: s.size };
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
