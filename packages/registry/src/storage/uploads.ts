import type { BlobInfo, BlobSource, BlobStore } from "./blob-store";

/**
 * The bytes of blob upload sessions (the OCI chunked upload), kept beside a blob store.
 * Sessions themselves (owner, repository) are rows in the database; a driver only holds
 * the bytes under the session id, and turns them into a blob of the store once verified.
 *
 * A session is resumable across restarts: its bytes are on disk (or in the object store),
 * so after a restart `size` still answers and `append` continues; only the running hash
 * state is lost, and `seal` then hashes the stored bytes again.
 */
export interface UploadStore {
  /** Start an empty upload. */
  create(id: string): Promise<void>;
  /** Bytes received so far, or null when there is no such upload. */
  size(id: string): Promise<number | null>;
  /**
   * Append a chunk at `offset`, which must be the current size (else `UploadOffsetError`).
   * A chunk that fails midway (client gone) leaves the upload as it was before it.
   * Returns the new size.
   */
  append(id: string, source: BlobSource, offset: number): Promise<number>;
  /**
   * Check the upload's bytes against `digest` (and `expectedSize`): `DigestMismatchError`
   * or `SizeMismatchError` when they differ. Slow only when the hash state was lost. May
   * start making the bytes durable, for `publish` to finish.
   */
  seal(id: string, digest: string, expectedSize?: number): Promise<BlobInfo>;
  /**
   * Make a sealed upload the blob `digest` of the store, durably (fsync, then an atomic
   * rename or the driver's commit), and forget the upload. Callers run it under the lock
   * that keeps garbage collection away (`holdBlobsAgainstGc`).
   */
  publish(id: string, digest: string): Promise<BlobInfo>;
  /** Forget an upload and its bytes; returns whether it existed. */
  abort(id: string): Promise<boolean>;
  /** Every upload with the time of its last write (for abandoned-upload cleanup). */
  list(): AsyncIterable<{ id: string; modifiedAt: Date }>;
  /**
   * Exclusive use of an upload inside this process while a request writes to it; null when
   * another request holds it. Call the returned function to release.
   */
  acquire(id: string): (() => void) | null;
}

/** A blob store that keeps upload sessions itself (e.g. next to its files, or as multipart uploads). */
export interface UploadingBlobStore extends BlobStore {
  uploads(): UploadStore;
}

export function hasUploads(store: BlobStore): store is UploadingBlobStore {
  return typeof (store as Partial<UploadingBlobStore>).uploads === "function";
}

export class UploadNotFoundError extends Error {
  override readonly name = "UploadNotFoundError";
  constructor(readonly id: string) {
    super(`upload ${id} is unknown`);
  }
}

export class UploadOffsetError extends Error {
  override readonly name = "UploadOffsetError";
  constructor(
    readonly expected: number,
    readonly given: number,
  ) {
    super(`chunk starts at byte ${given}, but the upload holds ${expected} bytes`);
  }
}

/** In-process exclusive holds on upload ids. */
export class UploadLocks {
  private readonly held = new Set<string>();
  acquire(id: string): (() => void) | null {
    if (this.held.has(id)) return null;
    this.held.add(id);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held.delete(id);
    };
  }
}
