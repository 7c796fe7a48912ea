import { createHash, type Hash } from "node:crypto";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import type { UploadStore } from "./blob-store";
import {
  type BlobInfo,
  type BlobSource,
  DigestMismatchError,
  SizeMismatchError,
  splitDigest,
} from "./blob-store";
import type { S3Location } from "./s3-client";
import { UploadLocks, UploadNotFoundError, UploadOffsetError } from "./uploads";

/** S3's smallest part but the last: chunks are buffered up to it. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** CopyObject's limit; larger blobs are copied part by part. */
const MAX_COPY_BYTES = 5 * 1024 * 1024 * 1024;
const COPY_PART_BYTES = 1024 * 1024 * 1024;
const UPLOAD_ID = /^[0-9a-f-]{36}$/;

/**
 * What an upload is, kept in the bucket beside its bytes (`uploads/<id>/state`), so that
 * the next chunk may land on any server process: the multipart upload and its parts, the
 * tail of fewer than 5 MiB not yet sent as a part, and, once sealed, the object holding the
 * whole upload. The state is rewritten after a chunk's bytes are stored, so a chunk cut off
 * midway leaves the previous state (and its parts) as it was: parts it sent past them are
 * replaced by the next chunk's, which reuse their numbers.
 */
interface UploadState {
  multipartId: string | null;
  parts: { n: number; etag: string; size: number }[];
  tail: { key: string; size: number } | null;
  /** Set once sealed: the object holding every byte (null: the upload is empty). */
  data?: { key: string | null };
  rev: number;
}

/** Running hash of an upload received by this process; valid while `size` matches. */
interface HashState {
  hash: Hash;
  size: number;
}

/**
 * OCI chunked uploads as S3 multipart uploads. Chunks are buffered to S3's 5 MiB minimum
 * part; what is left over after a chunk waits in a small tail object for the next one.
 * Sealing completes the multipart upload into a staging object under `uploads/`, checks
 * its digest (with the hash this process kept while receiving, or by reading it back when
 * another process received some chunks) and publishing copies it, inside the bucket, to its
 * blob key: a blob key only ever holds verified bytes.
 */
export class S3UploadStore implements UploadStore {
  private readonly hashes = new Map<string, HashState>();
  private readonly locks = new UploadLocks();

  constructor(
    private readonly s3: S3Location,
    private readonly blobKey: (digest: string) => string,
  ) {}

  private base(id: string): string {
    if (!UPLOAD_ID.test(id)) throw new UploadNotFoundError(id);
    return `${this.s3.prefix}uploads/${id}/`;
  }

  private async readState(id: string): Promise<UploadState | null> {
    const text = await this.s3.getText(`${this.base(id)}state`);
    return text === null ? null : (JSON.parse(text) as UploadState);
  }

  private async writeState(id: string, state: UploadState): Promise<void> {
    await this.s3.client.send(
      new PutObjectCommand({
        Bucket: this.s3.bucket,
        Key: `${this.base(id)}state`,
        Body: JSON.stringify(state),
        ContentType: "application/json",
      }),
    );
  }

  acquire(id: string): (() => void) | null {
    return this.locks.acquire(id);
  }

  async create(id: string): Promise<void> {
    if (await this.readState(id)) throw new Error(`upload ${id} exists already`);
    await this.writeState(id, { multipartId: null, parts: [], tail: null, rev: 0 });
    this.hashes.set(id, { hash: createHash("sha256"), size: 0 });
  }

  async size(id: string): Promise<number | null> {
    let state: UploadState | null;
    try {
      state = await this.readState(id);
    } catch (error) {
      if (error instanceof UploadNotFoundError) return null;
      throw error;
    }
    return state ? sizeOf(state) : null;
  }

  async append(id: string, source: BlobSource, offset: number): Promise<number> {
    const base = this.base(id);
    const state = await this.readState(id);
    if (!state) throw new UploadNotFoundError(id);
    const current = sizeOf(state);
    if (current !== offset) throw new UploadOffsetError(current, offset);
    if (state.data) throw new UploadOffsetError(current, offset);
    let hashState = this.hashes.get(id);
    if (hashState && hashState.size !== current) {
      this.hashes.delete(id);
      hashState = undefined;
    }
    const before = hashState?.hash.copy();
    const next: UploadState = { ...state, parts: [...state.parts], rev: state.rev + 1 };
    const pending: Buffer[] = [];
    let buffered = 0;
    if (state.tail && state.tail.size > 0) {
      const tail = await this.s3.getBytes(state.tail.key);
      if (!tail) throw new Error(`upload ${id} lost its tail object`);
      pending.push(tail);
      buffered = tail.length;
    }
    let size = current;
    const newTailKey = `${base}tail-${next.rev}`;
    try {
      const input =
        source instanceof Readable
          ? source
          : Readable.from(source instanceof Uint8Array ? [source] : source);
      for await (const chunk of input) {
        const bytes = typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer);
        hashState?.hash.update(bytes);
        size += bytes.length;
        pending.push(bytes);
        buffered += bytes.length;
        if (buffered >= MIN_PART_BYTES) {
          // Awaited inside the loop: the request is read no faster than S3 takes its parts.
          const body = Buffer.concat(pending);
          pending.length = 0;
          buffered = 0;
          next.multipartId ??= await this.startMultipart(id);
          next.parts.push(await this.sendPart(id, next, next.parts.length + 1, body));
        }
      }
      const rest = Buffer.concat(pending);
      if (rest.length > 0) {
        await this.s3.client.send(
          new PutObjectCommand({ Bucket: this.s3.bucket, Key: newTailKey, Body: rest }),
        );
        next.tail = { key: newTailKey, size: rest.length };
      } else {
        next.tail = null;
      }
      await this.writeState(id, next);
    } catch (error) {
      if (hashState && before) this.hashes.set(id, { hash: before, size: current });
      await this.s3.deleteKeys([newTailKey]).catch(() => {});
      throw error;
    }
    if (state.tail && state.tail.key !== next.tail?.key) {
      await this.s3.deleteKeys([state.tail.key]).catch(() => {});
    }
    if (hashState) hashState.size = size;
    return size;
  }

  private async startMultipart(id: string): Promise<string> {
    const out = await this.s3.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.s3.bucket, Key: `${this.base(id)}data` }),
    );
    if (!out.UploadId) throw new Error("S3 returned no multipart upload id");
    return out.UploadId;
  }

  private async sendPart(
    id: string,
    state: UploadState,
    n: number,
    body: Buffer,
  ): Promise<{ n: number; etag: string; size: number }> {
    const out = await this.s3.client.send(
      new UploadPartCommand({
        Bucket: this.s3.bucket,
        Key: `${this.base(id)}data`,
        UploadId: state.multipartId!,
        PartNumber: n,
        Body: body,
        ContentLength: body.length,
      }),
    );
    if (!out.ETag) throw new Error("S3 returned no part ETag");
    return { n, etag: out.ETag, size: body.length };
  }

  /** The object holding the whole upload, making it (completing the multipart) if need be. */
  private async materialize(id: string, state: UploadState): Promise<string | null> {
    if (state.data) return state.data.key;
    let key: string | null;
    const next: UploadState = { ...state, parts: [...state.parts], rev: state.rev + 1 };
    if (state.parts.length === 0) {
      key = state.tail?.key ?? null;
    } else {
      if (state.tail) {
        const tail = await this.s3.getBytes(state.tail.key);
        if (!tail) throw new Error(`upload ${id} lost its tail object`);
        next.parts.push(await this.sendPart(id, next, next.parts.length + 1, tail));
        // Its bytes are in the last part now (the object goes with the upload).
        next.tail = null;
      }
      key = `${this.base(id)}data`;
      await this.s3.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.s3.bucket,
          Key: key,
          UploadId: state.multipartId!,
          MultipartUpload: { Parts: next.parts.map((p) => ({ PartNumber: p.n, ETag: p.etag })) },
        }),
      );
    }
    next.data = { key };
    await this.writeState(id, next);
    return key;
  }

  async seal(id: string, digest: string, expectedSize?: number): Promise<BlobInfo> {
    const state = await this.readState(id);
    if (!state) throw new UploadNotFoundError(id);
    const size = sizeOf(state);
    if (expectedSize !== undefined && expectedSize !== size) {
      throw new SizeMismatchError(expectedSize, size);
    }
    const { algorithm } = splitDigest(digest);
    const key = await this.materialize(id, state);
    const kept = this.hashes.get(id);
    let actual: string;
    if (algorithm === "sha256" && kept && kept.size === size) {
      actual = `sha256:${kept.hash.copy().digest("hex")}`;
    } else {
      // Some chunks came through another process (or before a restart): read the bytes back.
      const hash = createHash(algorithm);
      if (key !== null) {
        for await (const chunk of await this.s3.getStream(key)) hash.update(chunk as Buffer);
      }
      actual = `${algorithm}:${hash.digest("hex")}`;
    }
    if (actual !== digest) throw new DigestMismatchError(digest, actual);
    return { digest, size };
  }

  async publish(id: string, digest: string): Promise<BlobInfo> {
    const state = await this.readState(id);
    if (!state) throw new UploadNotFoundError(id);
    const size = sizeOf(state);
    const key = await this.materialize(id, state);
    const target = this.blobKey(digest);
    if (key === null) {
      await this.s3.client.send(
        new PutObjectCommand({ Bucket: this.s3.bucket, Key: target, Body: new Uint8Array() }),
      );
    } else if (size <= MAX_COPY_BYTES) {
      await this.s3.client.send(
        new CopyObjectCommand({
          Bucket: this.s3.bucket,
          Key: target,
          CopySource: copySource(this.s3.bucket, key),
        }),
      );
    } else {
      await this.copyInParts(key, target, size);
    }
    await this.abort(id);
    return { digest, size };
  }

  private async copyInParts(from: string, to: string, size: number): Promise<void> {
    const started = await this.s3.client.send(
      new CreateMultipartUploadCommand({ Bucket: this.s3.bucket, Key: to }),
    );
    const uploadId = started.UploadId!;
    try {
      const parts: { PartNumber: number; ETag: string }[] = [];
      for (let start = 0, n = 1; start < size; start += COPY_PART_BYTES, n++) {
        const end = Math.min(start + COPY_PART_BYTES, size) - 1;
        const out = await this.s3.client.send(
          new UploadPartCopyCommand({
            Bucket: this.s3.bucket,
            Key: to,
            UploadId: uploadId,
            PartNumber: n,
            CopySource: copySource(this.s3.bucket, from),
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        parts.push({ PartNumber: n, ETag: out.CopyPartResult!.ETag! });
      }
      await this.s3.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.s3.bucket,
          Key: to,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
    } catch (error) {
      await this.s3.client
        .send(
          new AbortMultipartUploadCommand({ Bucket: this.s3.bucket, Key: to, UploadId: uploadId }),
        )
        .catch(() => {});
      throw error;
    }
  }

  async abort(id: string): Promise<boolean> {
    this.hashes.delete(id);
    let base: string;
    try {
      base = this.base(id);
    } catch {
      return false;
    }
    const state = await this.readState(id);
    if (state?.multipartId && !state.data?.key?.endsWith("/data")) {
      await this.s3.client
        .send(
          new AbortMultipartUploadCommand({
            Bucket: this.s3.bucket,
            Key: `${base}data`,
            UploadId: state.multipartId,
          }),
        )
        .catch(() => {});
    }
    const keys: string[] = [];
    for await (const object of this.s3.listObjects(base)) keys.push(object.key);
    // The state goes last: while it is there, a retry finds the upload and cleans up again.
    const stateKey = `${base}state`;
    await this.s3.deleteKeys(keys.filter((k) => k !== stateKey));
    if (keys.includes(stateKey)) await this.s3.deleteKeys([stateKey]);
    return state !== null;
  }

  async *list(): AsyncIterable<{ id: string; modifiedAt: Date }> {
    for await (const object of this.s3.listObjects(`${this.s3.prefix}uploads/`)) {
      const m = /uploads\/([0-9a-f-]{36})\/state$/.exec(object.key);
      if (m) yield { id: m[1]!, modifiedAt: object.modifiedAt };
    }
  }
}

function sizeOf(state: UploadState): number {
  return state.parts.reduce((sum, p) => sum + p.size, 0) + (state.tail?.size ?? 0);
}

function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}
