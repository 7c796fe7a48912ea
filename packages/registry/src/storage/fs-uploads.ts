import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, open, readdir, stat, truncate, unlink } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { UploadState, UploadStore } from "./blob-store";
import {
  type BlobInfo,
  type BlobSource,
  type BlobStore,
  DigestMismatchError,
  SizeMismatchError,
  splitDigest,
} from "./blob-store";
import { UploadNotFoundError, UploadOffsetError } from "./uploads";

/** Running hash of an upload; valid while `size` equals the bytes on disk. */
interface HashState {
  hash: Hash;
  size: number;
}

// Large writes: a 50 MB layer in a few dozen syscalls rather than hundreds.
const WRITE_HIGH_WATER_MARK = 4 * 1024 * 1024;
const READ_HIGH_WATER_MARK = 1024 * 1024;
const UPLOAD_ID = /^[0-9a-f-]{36}$/;
/**
 * A chunk at least this large starts its flush as soon as it is written. Smaller ones do
 * not: a client sending a flood of tiny chunks would otherwise have the disk flush once
 * per chunk.
 */
const EARLY_FLUSH_BYTES = 1024 * 1024;

/**
 * Upload sessions as files: `dir/<id>`. Chunks are appended while a SHA-256 runs over
 * them, so sealing an upload costs no second read unless the process restarted (the hash
 * state lives in memory). Given `adopt` (the blob store is on the same filesystem),
 * publishing hands the file over (a rename into the blob tree); otherwise the verified file
 * is streamed into the store, which verifies it again. The file is the whole record of an
 * upload: its `UploadState` stays empty.
 */
export class FsUploadStore implements UploadStore {
  private readonly hashes = new Map<string, HashState>();
  /**
   * Flushes started by a large chunk or by `seal`, with the file's size when each started,
   * awaited by `publish`. Per process: another process may have appended since, so a flush
   * counts only for the size it began at.
   */
  private readonly synced = new Map<string, { size: number; sync: Promise<void> }>();

  constructor(
    readonly dir: string,
    private readonly target: BlobStore,
    private readonly adopt?: (path: string, digest: string) => Promise<void>,
  ) {}

  private pathOf(id: string): string {
    if (!UPLOAD_ID.test(id)) throw new UploadNotFoundError(id);
    return join(this.dir, id);
  }

  async create(id: string): Promise<UploadState> {
    const path = this.pathOf(id);
    // The folder exists but for the first upload: made only when missing, not each time.
    const fh = await open(path, "wx").catch(async (error: unknown) => {
      if (!isNotFound(error)) throw error;
      await mkdir(this.dir, { recursive: true });
      return open(path, "wx");
    });
    await fh.close();
    this.hashes.set(id, { hash: createHash("sha256"), size: 0 });
    return {};
  }

  async size(id: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(id))).size;
    } catch (error) {
      if (isNotFound(error) || error instanceof UploadNotFoundError) return null;
      throw error;
    }
  }

  async append(id: string, source: BlobSource, offset: number): Promise<number> {
    const path = this.pathOf(id);
    const current = await this.size(id);
    if (current === null) throw new UploadNotFoundError(id);
    if (current !== offset) throw new UploadOffsetError(current, offset);
    this.synced.delete(id);
    let state = this.hashes.get(id);
    if (state && state.size !== current) {
      this.hashes.delete(id);
      state = undefined;
    }
    // Keep a copy so that a chunk cut off midway can be undone, hash included.
    const before = state?.hash.copy();
    const input =
      source instanceof Readable
        ? source
        : Readable.from(source instanceof Uint8Array ? [source] : source);
    let size = current;
    try {
      await new Promise<void>((resolve, reject) => {
        const out = createWriteStream(path, {
          flags: "r+",
          start: offset,
          highWaterMark: WRITE_HIGH_WATER_MARK,
        });
        let ended = false;
        let failed = false;
        const fail = (error: Error) => {
          if (failed) return;
          failed = true;
          input.off("data", onData);
          out.destroy();
          // The output may still be closing: undo only once it is.
          out.once("close", () => reject(error));
          if (out.closed) reject(error);
        };
        // Plain listeners rather than a pipeline: this loop carries every byte of a push.
        const onData = (chunk: Buffer | string) => {
          const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
          state?.hash.update(bytes);
          size += bytes.length;
          if (!out.write(bytes)) {
            input.pause();
            out.once("drain", () => input.resume());
          }
        };
        input.on("data", onData);
        input.once("end", () => {
          ended = true;
          out.end();
        });
        input.once("error", fail);
        input.once("close", () => {
          if (!ended) fail(new Error("the upload stream ended early"));
        });
        out.once("error", fail);
        out.once("close", () => {
          if (!failed) resolve();
        });
      });
    } catch (error) {
      await truncate(path, current).catch(() => {});
      if (state && before) this.hashes.set(id, { hash: before, size: current });
      throw error;
    }
    if (state) state.size = size;
    if (size - current >= EARLY_FLUSH_BYTES) {
      // The flush starts now, while the answer goes out and the client sends its next
      // request: a PUT that closes the upload then finds the bytes mostly on disk. After
      // another chunk, in this process or another, `seal` starts one of its own.
      this.startFlush(id, path, size);
    }
    return size;
  }

  /** Start flushing the file of upload `id`, `size` bytes long, for publish to await. */
  private startFlush(id: string, path: string, size: number): void {
    const sync = fsyncFile(path);
    sync.catch(() => {});
    this.synced.set(id, { size, sync });
  }

  async seal(
    id: string,
    digest: string,
    _state?: UploadState,
    expectedSize?: number,
  ): Promise<BlobInfo> {
    const path = this.pathOf(id);
    const size = await this.size(id);
    if (size === null) throw new UploadNotFoundError(id);
    if (expectedSize !== undefined && expectedSize !== size) {
      throw new SizeMismatchError(expectedSize, size);
    }
    const { algorithm } = splitDigest(digest);
    const state = this.hashes.get(id);
    let actual: string;
    if (algorithm === "sha256" && state && state.size === size) {
      // digest() ends a Hash; a copy keeps the state usable if the client appends more.
      actual = `sha256:${state.hash.copy().digest("hex")}`;
    } else {
      const hash = createHash(algorithm);
      for await (const chunk of createReadStream(path, { highWaterMark: READ_HIGH_WATER_MARK })) {
        hash.update(chunk as Buffer);
      }
      actual = `${algorithm}:${hash.digest("hex")}`;
    }
    if (actual !== digest) throw new DigestMismatchError(digest, actual);
    // The flush to disk starts now (unless the last chunk started one at this size) and
    // overlaps whatever the caller does before publish.
    if (this.synced.get(id)?.size !== size) this.startFlush(id, path, size);
    return { digest, size };
  }

  async publish(id: string, digest: string): Promise<BlobInfo> {
    const path = this.pathOf(id);
    const size = await this.size(id);
    if (size === null) throw new UploadNotFoundError(id);
    const flush = this.synced.get(id);
    await (flush?.size === size ? flush.sync : fsyncFile(path));
    this.synced.delete(id);
    if (this.adopt) {
      await this.adopt(path, digest);
    } else {
      await this.target.put(createReadStream(path, { highWaterMark: READ_HIGH_WATER_MARK }), {
        expectedDigest: digest,
        expectedSize: size,
      });
      await unlink(path);
    }
    this.hashes.delete(id);
    return { digest, size };
  }

  async abort(id: string): Promise<boolean> {
    this.hashes.delete(id);
    this.synced.delete(id);
    try {
      await unlink(this.pathOf(id));
      return true;
    } catch (error) {
      if (isNotFound(error) || error instanceof UploadNotFoundError) return false;
      throw error;
    }
  }

  async *list(): AsyncIterable<{ id: string; modifiedAt: Date }> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (error) {
      if (isNotFound(error)) return;
      throw error;
    }
    for (const name of names) {
      if (!UPLOAD_ID.test(name)) continue;
      try {
        const s = await stat(join(this.dir, name));
        yield { id: name, modifiedAt: s.mtime };
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }
}

/** Flush a file's data (and its size) to disk. */
async function fsyncFile(path: string): Promise<void> {
  const fh = await open(path, "r");
  try {
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown })?.code === "ENOENT";
}
