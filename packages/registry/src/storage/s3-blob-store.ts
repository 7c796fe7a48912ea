import { createHash, randomUUID } from "node:crypto";
import { Readable, Transform } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { UploadStore } from "./blob-store";
import {
  type BlobInfo,
  BlobNotFoundError,
  type BlobSource,
  type BlobStore,
  type ByteRange,
  DigestMismatchError,
  type PutOptions,
  type StoredBlob,
  splitDigest,
} from "./blob-store";
import { checkRange } from "./fs-blob-store";
import { isMissing, S3Location } from "./s3-client";
import { S3UploadStore } from "./s3-uploads";

/**
 * Blobs as objects of an S3 (or S3-compatible) bucket:
 *
 *     <prefix>blobs/<algorithm>/<hex>     complete, verified blobs
 *     <prefix>uploads/<id>/…              upload sessions (see S3UploadStore)
 *
 * Every write goes through an upload and is verified before it is copied to its blob key,
 * so a blob key never holds partial or unverified bytes. The bucket is the operator's: the
 * store never creates or deletes one.
 */
export class S3BlobStore implements BlobStore {
  readonly description: string;
  private readonly s3: S3Location;
  private readonly uploadArea: S3UploadStore;

  /**
   * Present when blob GETs may be redirected (the default; `redirectSeconds: null` turns it
   * off): a presigned GET of the blob's object valid for `redirectSeconds`.
   */
  readonly presign?: (digest: string, options: { expiresInSeconds: number }) => Promise<string>;

  constructor(
    client: S3Client,
    readonly bucket: string,
    prefix = "",
    options: { redirects?: boolean } = {},
  ) {
    const clean = prefix.replace(/^\/+|\/+$/g, "");
    const keyPrefix = clean ? `${clean}/` : "";
    this.s3 = new S3Location(client, bucket, keyPrefix);
    this.description = `s3://${bucket}/${clean}`;
    this.uploadArea = new S3UploadStore(this.s3, (digest) => this.keyOf(digest));
    if (options.redirects !== false) {
      this.presign = (digest, { expiresInSeconds }) =>
        getSignedUrl(
          this.s3.client,
          new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(digest) }),
          { expiresIn: expiresInSeconds },
        );
    }
  }

  keyOf(digest: string): string {
    const { algorithm, hex } = splitDigest(digest);
    return `${this.s3.prefix}blobs/${algorithm}/${hex}`;
  }

  uploads(): UploadStore {
    return this.uploadArea;
  }

  async check(): Promise<void> {
    try {
      await this.s3.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata
        ?.httpStatusCode;
      const why =
        status === 404
          ? "does not exist (create it first: Berth never creates buckets)"
          : status === 403
            ? "refuses these credentials"
            : `cannot be reached (${(error as Error).message || (error as Error).name})`;
      throw new Error(`storage ${this.description}: bucket ${this.bucket} ${why}`);
    }
  }

  async put(source: BlobSource, options: PutOptions = {}): Promise<BlobInfo> {
    const algorithm = options.expectedDigest
      ? splitDigest(options.expectedDigest).algorithm
      : (options.algorithm ?? "sha256");
    const hash = createHash(algorithm);
    const hashing = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const input =
      source instanceof Readable
        ? source
        : Readable.from(source instanceof Uint8Array ? [source] : source);
    const id = randomUUID();
    const uploads = this.uploadArea;
    const state = await uploads.create(id);
    try {
      input.once("error", (error) => hashing.destroy(error));
      await uploads.append(id, input.pipe(hashing), 0, state);
      const digest = `${algorithm}:${hash.digest("hex")}`;
      if (options.expectedDigest && options.expectedDigest !== digest) {
        throw new DigestMismatchError(options.expectedDigest, digest);
      }
      const info = await uploads.seal(id, digest, state, options.expectedSize);
      if (await this.stat(digest)) {
        await uploads.abort(id, state);
        return info;
      }
      return await uploads.publish(id, digest, state);
    } catch (error) {
      await uploads.abort(id, state).catch(() => {});
      throw error;
    }
  }

  async get(digest: string, range?: ByteRange): Promise<Readable> {
    const key = this.keyOf(digest);
    let header: string | undefined;
    if (range) {
      const info = await this.stat(digest);
      if (!info) throw new BlobNotFoundError(digest);
      checkRange(digest, range, info.size);
      header = `bytes=${range.start}-${range.end ?? info.size - 1}`;
    }
    let body: Readable;
    try {
      body = await this.s3.getStream(key, header);
    } catch (error) {
      if (isMissing(error)) throw new BlobNotFoundError(digest);
      throw error;
    }
    return counted(body);
  }

  async stat(digest: string): Promise<StoredBlob | null> {
    try {
      const out = await this.s3.client.send(
        new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(digest) }),
      );
      return {
        digest,
        size: out.ContentLength ?? 0,
        modifiedAt: out.LastModified ?? new Date(0),
      };
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async delete(digest: string): Promise<boolean> {
    if (!(await this.stat(digest))) return false;
    await this.s3.client.send(
      new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(digest) }),
    );
    return true;
  }

  async *list(): AsyncIterable<string> {
    const prefix = `${this.s3.prefix}blobs/`;
    for await (const object of this.s3.listObjects(prefix)) {
      const m = /^([a-z0-9]+)\/([0-9a-f]+)$/.exec(object.key.slice(prefix.length));
      if (m) yield `${m[1]}:${m[2]}`;
    }
  }
}

/**
 * The object's bytes with a `bytesRead` count, as a file stream has: pull traffic is the
 * bytes that reached the response, not the blob's size.
 */
function counted(body: Readable): Readable {
  let read = 0;
  const out = new Transform({
    transform(chunk: Buffer, _enc, done) {
      read += chunk.length;
      done(null, chunk);
    },
  });
  Object.defineProperty(out, "bytesRead", { get: () => read });
  body.once("error", (error) => out.destroy(error));
  out.once("close", () => {
    if (!body.destroyed) body.destroy();
  });
  return body.pipe(out);
}
