import type { Readable } from "node:stream";
import {
  type DigestAlgorithm,
  digestProblem,
  InvalidReferenceError,
  parseDigest,
} from "@berth/core";

/**
 * Content-addressed storage of blobs (layers, configs). A blob is stored once whatever the
 * number of repositories or accounts using it; which repository may see it is the
 * database's business (`repository_blobs`), not the store's.
 *
 * Digests are `<algorithm>:<hex>`, of the algorithms core's DIGEST_ALGORITHMS names. Drivers must make a blob visible only
 * once it is complete and verified: readers never see a partial or corrupt blob.
 */
export interface BlobStore {
  /**
   * Store bytes, hashing them while they stream. When `expectedDigest` is given the blob is
   * stored only if the bytes match (else `DigestMismatchError`, nothing kept); when
   * `expectedSize` is given a different length is refused the same way. Storing a blob
   * that exists already is a no-op that still verifies the bytes.
   */
  put(source: BlobSource, options?: PutOptions): Promise<BlobInfo>;
  /** The bytes, or a byte range (inclusive `start`, inclusive `end`). `BlobNotFoundError` when absent. */
  get(digest: string, range?: ByteRange): Promise<Readable>;
  /** Size and write time of a stored blob, or null when absent. */
  stat(digest: string): Promise<StoredBlob | null>;
  /** Remove a blob; returns whether it existed. */
  delete(digest: string): Promise<boolean>;
  /** Every stored digest, in no particular order. */
  list(): AsyncIterable<string>;
  /**
   * The upload sessions kept beside the blobs (OCI chunked uploads): files next to them, or
   * multipart uploads of the bucket. Always the same instance for one store.
   */
  uploads(): UploadStore;
  /**
   * Optional capability: a URL that serves the blob's bytes for a while without credentials
   * (a presigned GET), so that a blob GET can be answered with a redirect. Absent when the
   * driver cannot (files).
   */
  presign?(digest: string, options: { expiresInSeconds: number }): Promise<string>;
  /**
   * Optional capability: check that the storage is there and usable (the bucket exists and
   * answers), so that a misconfiguration is a clear error at start rather than at the first push.
   */
  check?(): Promise<void>;
  /** A short description for logs (`files under …`, `s3://bucket/prefix`); never a secret. */
  readonly description: string;
}

/** What `stat` knows of a stored blob. */
export interface StoredBlob extends BlobInfo {
  /** When the blob was written (garbage collection spares young files). */
  modifiedAt: Date;
}

export type BlobSource = Readable | AsyncIterable<Uint8Array> | Uint8Array;

export interface PutOptions {
  expectedDigest?: string;
  expectedSize?: number;
  /** Algorithm used when no digest is expected; default sha256. */
  algorithm?: DigestAlgorithm;
}

export interface BlobInfo {
  digest: string;
  size: number;
}

export interface ByteRange {
  start: number;
  /** Inclusive; omitted means to the end. */
  end?: number;
}

export class BlobNotFoundError extends Error {
  override readonly name = "BlobNotFoundError";
  constructor(readonly digest: string) {
    super(`blob ${digest} is not in the store`);
  }
}

export class DigestMismatchError extends Error {
  override readonly name = "DigestMismatchError";
  constructor(
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`content digest ${actual} does not match the expected digest ${expected}`);
  }
}

export class SizeMismatchError extends Error {
  override readonly name = "SizeMismatchError";
  constructor(
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`content is ${actual} bytes, ${expected} expected`);
  }
}

export class InvalidRangeError extends Error {
  override readonly name = "InvalidRangeError";
}

/**
 * Split a digest into algorithm and hex, or throw for anything the store cannot address
 * (what is valid is core's `digestProblem`; this only refuses it before a path is built).
 */
export function splitDigest(digest: string): { algorithm: DigestAlgorithm; hex: string } {
  const problem = digestProblem(digest);
  if (problem)
    throw new InvalidReferenceError(`invalid digest: ${problem}`, "DIGEST_INVALID", digest);
  const { algorithm, encoded } = parseDigest(digest);
  return { algorithm, hex: encoded };
}

/** A whole blob in memory; for small blobs only (configs, manifests). */
export async function readBlob(store: BlobStore, digest: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(digest)) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

/**
 * What a driver needs to continue an upload besides its bytes (S3: the multipart upload, its
 * parts and the tail not yet sent as one; files: nothing). A JSON object that the driver
 * updates in place when a call succeeds, and leaves as it was when it fails. The caller
 * keeps it between requests (the upload's row in Postgres) and passes it to every call, so
 * that the next chunk may land on any server process; `create` gives the first one.
 */
export type UploadState = Record<string, unknown>;

/**
 * The bytes of blob upload sessions (the OCI chunked upload), kept beside a blob store.
 * Sessions themselves (owner, repository, the driver's `UploadState`, who is writing) are
 * rows in the database; a driver holds the bytes under the session id and turns them into a
 * blob of the store once verified. Callers let one request at a time write an upload (the
 * session's lease); the driver does not lock.
 *
 * A session is resumable in another process or after a restart: its bytes are on disk or in
 * the object store and its state in the database; only the running hash is per process, and
 * `seal` hashes the stored bytes again when this process did not see them all.
 */
export interface UploadStore {
  /** Start an empty upload; returns its first state. */
  create(id: string): Promise<UploadState>;
  /** Bytes received so far, or null when the driver knows there is no such upload. */
  size(id: string, state: UploadState): Promise<number | null>;
  /**
   * Append a chunk at `offset`, which must be the current size (else `UploadOffsetError`).
   * A chunk that fails midway (client gone) leaves the upload and `state` as they were.
   * Returns the new size.
   */
  append(id: string, source: BlobSource, offset: number, state: UploadState): Promise<number>;
  /**
   * Check the upload's bytes against `digest` (and `expectedSize`): `DigestMismatchError`
   * or `SizeMismatchError` when they differ. Slow only when this process did not receive
   * every chunk. May start making the bytes durable, for `publish` to finish.
   */
  seal(id: string, digest: string, state: UploadState, expectedSize?: number): Promise<BlobInfo>;
  /**
   * Make a sealed upload the blob `digest` of the store, durably (fsync, then an atomic
   * rename or the driver's commit), and forget the upload. Callers run it under the lock
   * that keeps garbage collection away (`holdBlobsAgainstGc`).
   */
  publish(id: string, digest: string, state: UploadState): Promise<BlobInfo>;
  /**
   * Forget an upload and its bytes; returns whether it had any. Without its state (garbage
   * collection of uploads nobody owns) the driver finds what is left by the id.
   */
  abort(id: string, state?: UploadState): Promise<boolean>;
  /** Every upload with the time of its last write (for abandoned-upload cleanup). */
  list(): AsyncIterable<{ id: string; modifiedAt: Date }>;
}

/** Every blob store keeps its upload sessions (`BlobStore.uploads`); the old name of that. */
export type UploadingBlobStore = BlobStore;
