// Over 400 lines: one UploadStore for S3, a class whose methods share the multipart upload's
// state and its invariants (parts of at least 5 MiB but the last, the running hash); split, the
// invariants would be read in several files.
import { createHash, type Hash, randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import type { UploadState, UploadStore } from "./blob-store";
import {
  type BlobInfo,
  type BlobSource,
  DigestMismatchError,
  SizeMismatchError,
  splitDigest,
} from "./blob-store";
import type { S3Location } from "./s3-client";
import { UploadNotFoundError, UploadOffsetError } from "./uploads";

/** S3's smallest part but the last: chunks are buffered up to it. */
export const MIN_PART_BYTES = 5 * 1024 * 1024;
/** CopyObject's limit; larger blobs are copied part by part. */
const MAX_COPY_BYTES = 5 * 1024 * 1024 * 1024;
const COPY_PART_BYTES = 1024 * 1024 * 1024;
const UPLOAD_ID = /^[0-9a-f-]{36}$/;

/**
 * An upload's `UploadState` here: the multipart upload and its parts, the tail of fewer than
 * 5 MiB not yet sent as a part (an object of its own), and, once sealed, the object holding
 * the whole upload. The caller keeps it in the upload's database row, so the next chunk may
 * land on any server process. A chunk cut off midway leaves it as it was: parts it sent past
 * it are replaced by the next chunk's, which reuse their numbers, and are left out of the
 * completed upload anyway (S3 keeps only the parts the completion lists, with their ETags).
 */
type S3State = {
  multipartId?: string;
  parts?: Part[];
  tail?: { key: string; size: number };
  /** Set once sealed: the object holding every byte (null: the upload is empty). */
  data?: { key: string | null };
};

interface Part {
  n: number;
  etag: string;
  size: number;
}

/** Running hash of an upload received by this process; valid while `size` matches. */
interface HashState {
  hash: Hash;
  size: number;
}

/**
 * OCI chunked uploads as S3 multipart uploads. Chunks are buffered to S3's 5 MiB minimum
 * part; what is left over after a chunk waits in a small tail object (a new key each time,
 * so a writer that lost its turn cannot overwrite the current one) for the next one.
 * Sealing completes the multipart upload into a staging object under `uploads/`, checks its
 * digest (with the hash this process kept while receiving, or by reading it back when
 * another process received some chunks) and publishing copies it, inside the bucket, to its
 * blob key: a blob key only ever holds verified bytes.
 */
export class S3UploadStore implements UploadStore {
  private readonly hashes = new Map<string, HashState>();

  constructor(
    private readonly s3: S3Location,
    private readonly blobKey: (digest: string) => string,
  ) {}

  private base(id: string): string {
    if (!UPLOAD_ID.test(id)) throw new UploadNotFoundError(id);
    return `${this.s3.prefix}uploads/${id}/`;
  }

  async create(id: string): Promise<UploadState> {
    this.base(id);
    // Nothing in the bucket until the first bytes come.
    this.hashes.set(id, { hash: createHash("sha256"), size: 0 });
    return {};
  }

  async size(id: string, state: UploadState): Promise<number | null> {
    return UPLOAD_ID.test(id) ? sizeOf(state) : null;
  }

  async append(
    id: string,
    source: BlobSource,
    offset: number,
    state: UploadState,
  ): Promise<number> {
    const base = this.base(id);
    const was = state as S3State;
    const current = sizeOf(was);
    if (current !== offset || was.data) throw new UploadOffsetError(current, offset);
    let hashState = this.hashes.get(id);
    if (hashState && hashState.size !== current) {
      this.hashes.delete(id);
      hashState = undefined;
    }
    const before = hashState?.hash.copy();
    const next: S3State = { ...was, parts: [...(was.parts ?? [])] };
    const pending: Buffer[] = [];
    let buffered = 0;
    if (was.tail && was.tail.size > 0) {
      const tail = await this.s3.getBytes(was.tail.key);
      if (!tail) throw new Error(`upload ${id} lost its tail object`);
      pending.push(tail);
      buffered = tail.length;
    }
    let size = current;
    const newTailKey = `${base}tail-${randomUUID()}`;
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
          next.parts!.push(await this.sendPart(id, next, next.parts!.length + 1, body));
        }
      }
      const rest = Buffer.concat(pending);
      if (rest.length > 0) {
        await this.s3.client.send(
          new PutObjectCommand({ Bucket: this.s3.bucket, Key: newTailKey, Body: rest }),
        );
        next.tail = { key: newTailKey, size: rest.length };
      } else {
        delete next.tail;
      }
    } catch (error) {
      if (hashState && before) this.hashes.set(id, { hash: before, size: current });
      await this.s3.deleteKeys([newTailKey]).catch(() => {});
      throw error;
    }
    const oldTail = was.tail;
    replace(state, next);
    if (oldTail && oldTail.key !== next.tail?.key) {
      await this.s3.deleteKeys([oldTail.key]).catch(() => {});
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

  private async sendPart(id: string, state: S3State, n: number, body: Buffer): Promise<Part> {
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
    // `was` is the caller's object: read it all before `replace` changes it.
    const was = state as S3State;
    if (was.data) return was.data.key;
    let key: string | null;
    const next: S3State = { ...was, parts: [...(was.parts ?? [])] };
    if (next.parts!.length === 0) {
      key = was.tail?.key ?? null;
    } else {
      if (was.tail) {
        const tail = await this.s3.getBytes(was.tail.key);
        if (!tail) throw new Error(`upload ${id} lost its tail object`);
        next.parts!.push(await this.sendPart(id, next, next.parts!.length + 1, tail));
        delete next.tail;
      }
      key = `${this.base(id)}data`;
      await this.s3.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.s3.bucket,
          Key: key,
          UploadId: next.multipartId!,
          MultipartUpload: { Parts: next.parts!.map((p) => ({ PartNumber: p.n, ETag: p.etag })) },
        }),
      );
      // Its bytes are in the last part now.
      if (was.tail) await this.s3.deleteKeys([was.tail.key]).catch(() => {});
    }
    next.data = { key };
    replace(state, next);
    return key;
  }

  async seal(
    id: string,
    digest: string,
    state: UploadState,
    expectedSize?: number,
  ): Promise<BlobInfo> {
    this.base(id);
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

  async publish(id: string, digest: string, state: UploadState): Promise<BlobInfo> {
    this.base(id);
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
    await this.abort(id, state);
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

  async abort(id: string, state?: UploadState): Promise<boolean> {
    this.hashes.delete(id);
    if (!UPLOAD_ID.test(id)) return false;
    const base = this.base(id);
    const known = state as S3State | undefined;
    // With the state, what is left is known; without it (an upload nobody owns), look.
    const multipartIds = known
      ? known.multipartId && !known.data?.key?.endsWith("/data")
        ? [known.multipartId]
        : []
      : await this.multipartsUnder(base);
    for (const uploadId of multipartIds) {
      await this.s3.client
        .send(
          new AbortMultipartUploadCommand({
            Bucket: this.s3.bucket,
            Key: `${base}data`,
            UploadId: uploadId,
          }),
        )
        .catch(() => {});
    }
    const keys: string[] = [];
    if (known) {
      for (const key of new Set([known.tail?.key, known.data?.key])) if (key) keys.push(key);
    } else {
      for await (const object of this.s3.listObjects(base)) keys.push(object.key);
    }
    await this.s3.deleteKeys(keys);
    return keys.length > 0 || multipartIds.length > 0;
  }

  private async multipartsUnder(prefix: string): Promise<string[]> {
    const ids: string[] = [];
    for await (const upload of this.multiparts(prefix)) ids.push(upload.uploadId);
    return ids;
  }

  private async *multiparts(
    prefix: string,
  ): AsyncIterable<{ key: string; uploadId: string; initiated: Date }> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const out = await this.s3.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.s3.bucket,
          Prefix: prefix,
          ...(keyMarker ? { KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker } : {}),
        }),
      );
      for (const u of out.Uploads ?? []) {
        if (u.Key && u.UploadId) {
          yield { key: u.Key, uploadId: u.UploadId, initiated: u.Initiated ?? new Date(0) };
        }
      }
      keyMarker = out.IsTruncated ? out.NextKeyMarker : undefined;
      uploadIdMarker = out.NextUploadIdMarker;
    } while (keyMarker);
  }

  /**
   * Uploads that have anything in the bucket (a tail, a staging object, a multipart upload),
   * each with its latest write; an upload with no bytes yet has nothing to list.
   */
  async *list(): AsyncIterable<{ id: string; modifiedAt: Date }> {
    const root = `${this.s3.prefix}uploads/`;
    const latest = new Map<string, number>();
    const note = (key: string, at: Date) => {
      const m = /^([0-9a-f-]{36})\//.exec(key.slice(root.length));
      if (m) latest.set(m[1]!, Math.max(latest.get(m[1]!) ?? 0, at.getTime()));
    };
    for await (const object of this.s3.listObjects(root)) note(object.key, object.modifiedAt);
    for await (const upload of this.multiparts(root)) {
      note(upload.key, upload.initiated);
      // The last part tells when it was last written (and some services, moto among them,
      // give every upload the same made-up start time).
      const parts = await this.s3.client.send(
        new ListPartsCommand({
          Bucket: this.s3.bucket,
          Key: upload.key,
          UploadId: upload.uploadId,
        }),
      );
      for (const part of parts.Parts ?? [])
        if (part.LastModified) note(upload.key, part.LastModified);
    }
    for (const [id, at] of latest) yield { id, modifiedAt: new Date(at) };
  }
}

/** Put `next`'s fields in `state` (the caller's object), dropping those `next` lacks. */
function replace(state: UploadState, next: S3State): void {
  for (const key of Object.keys(state)) delete state[key];
  Object.assign(state, next);
}

function sizeOf(state: UploadState): number {
  const { parts = [], tail } = state as S3State;
  return parts.reduce((sum, p) => sum + p.size, 0) + (tail?.size ?? 0);
}

function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`;
}
