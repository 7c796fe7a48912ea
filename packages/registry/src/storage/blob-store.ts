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
  /** Size of a stored blob, or null when absent. */
  stat(digest: string): Promise<BlobInfo | null>;
  /** Remove a blob; returns whether it existed. */
  delete(digest: string): Promise<boolean>;
  /** Every stored digest, in no particular order. */
  list(): AsyncIterable<string>;
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
