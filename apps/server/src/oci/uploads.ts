import {
  appendUpload,
  cancelUpload,
  finishUpload,
  mountBlob,
  OciFailure,
  permits,
  startUpload,
  type UploadLimits,
  type UploadRef,
  uploadStatus,
  uploadWhole,
} from "@berth/registry";
import type { FastifyReply } from "fastify";
import {
  blobLocation,
  hasBody,
  type OciCall,
  queryParam,
  uploadLocation,
  uploadRange,
} from "./call";

type UploadsCall = OciCall & { name: string };
type UploadCall = OciCall & { name: string; id: string };

function created(call: UploadsCall, digest: string): FastifyReply {
  return call.reply
    .code(201)
    .headers({
      location: blobLocation(call.name, digest),
      "docker-content-digest": digest,
      "content-length": "0",
    })
    .send();
}

function progress(call: UploadsCall, id: string, offset: number, status: number): FastifyReply {
  return call.reply
    .code(status)
    .headers({
      location: uploadLocation(call.name, id),
      range: uploadRange(offset),
      "docker-upload-uuid": id,
      "content-length": "0",
    })
    .send();
}

/** The bounds of a chunk: the blob size cap, and the Content-Length it announces. */
function limitsOf(call: UploadsCall): UploadLimits {
  const declared = Number(call.req.headers["content-length"]);
  return {
    ...(call.maxBlobBytes ? { maxBlobBytes: call.maxBlobBytes } : {}),
    ...(Number.isSafeInteger(declared) && declared > 0 ? { declaredLength: declared } : {}),
  };
}

/**
 * A chunk refused before its body was read (too large, over quota): the connection closes
 * after the answer rather than reading the rest.
 */
async function closingIfUnread<T>(call: UploadsCall, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (hasBody(call.req) && !call.req.raw.readableEnded) call.reply.header("connection", "close");
    throw error;
  }
}

/**
 * POST /blobs/uploads/: a cross-repository mount (`mount`, `from`), a monolithic upload
 * (`digest` and the body), or a new upload session.
 */
export async function postUpload(call: UploadsCall): Promise<FastifyReply> {
  const { ctx, req, cred } = call;
  const mount = queryParam(req, "mount");
  const from = queryParam(req, "from");
  const digest = queryParam(req, "digest");
  if (mount !== undefined) {
    // A mount names its source and the credential may pull from it; anything else (no
    // `from`, a repository the credential may not read) is no mount: upload instead.
    if (from !== undefined && permits(cred, from, "pull")) {
      const blob = await mountBlob(ctx, { repository: call.name, digest: mount, from });
      if (blob) return created(call, blob.digest);
    }
  } else if (digest !== undefined) {
    const blob = await closingIfUnread(call, () =>
      uploadWhole(ctx, { repository: call.name, digest, source: req.raw, limits: limitsOf(call) }),
    );
    return created(call, blob.digest);
  }
  const { id } = await startUpload(ctx, {
    repository: call.name,
    ...(call.unconfirmed ? { unconfirmed: call.unconfirmed } : {}),
  });
  return progress(call, id, 0, 202);
}

export async function getUpload(call: UploadCall): Promise<FastifyReply> {
  const { offset } = await uploadStatus(call.ctx, { repository: call.name, id: call.id });
  return progress(call, call.id, offset, 204);
}

/** `Content-Range` of a chunk: `<start>-<end>` (a `bytes ` prefix tolerated). */
export function parseContentRange(
  header: string | undefined,
): { start: number; end: number } | undefined {
  if (header === undefined) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m || Number(m[2]) < Number(m[1])) {
    throw new OciFailure(
      "BLOB_UPLOAD_INVALID",
      `Content-Range "${header}" is not <start>-<end>`,
      416,
    );
  }
  return { start: Number(m[1]), end: Number(m[2]) };
}

function chunkStart(call: UploadCall): number | undefined {
  const range = parseContentRange(call.req.headers["content-range"]);
  if (!range) return undefined;
  const length = call.req.headers["content-length"];
  if (length !== undefined && Number(length) !== range.end - range.start + 1) {
    throw new OciFailure(
      "SIZE_INVALID",
      `Content-Length ${length} does not match Content-Range ${range.start}-${range.end}`,
    );
  }
  return range.start;
}

/**
 * An out-of-order chunk is answered 416 with where the upload stands, so the client can
 * resume from there.
 */
async function withUploadState<T>(call: UploadCall, run: () => Promise<T>): Promise<T> {
  try {
    return await closingIfUnread(call, run);
  } catch (error) {
    if (error instanceof OciFailure && error.status === 416) {
      const state = await uploadStatus(call.ctx, { repository: call.name, id: call.id }).catch(
        () => null,
      );
      if (state) {
        call.reply.headers({
          location: uploadLocation(call.name, call.id),
          range: uploadRange(state.offset),
          "docker-upload-uuid": call.id,
        });
      }
    }
    throw error;
  }
}

/** The upload a request names, with its credential when that is still to be checked. */
function uploadRef(call: UploadCall): UploadRef {
  return {
    repository: call.name,
    id: call.id,
    ...(call.unconfirmed ? { unconfirmed: call.unconfirmed } : {}),
  };
}

/** PATCH: append a chunk, streamed to storage while hashed. */
export function patchUpload(call: UploadCall): Promise<FastifyReply> {
  return withUploadState(call, async () => {
    const start = chunkStart(call);
    const { offset } = await appendUpload(call.ctx, {
      ...uploadRef(call),
      source: call.req.raw,
      ...(start !== undefined ? { start } : {}),
      limits: limitsOf(call),
    });
    return progress(call, call.id, offset, 202);
  });
}

/** PUT ?digest=: close the upload, with an optional last chunk. */
export function putUpload(call: UploadCall): Promise<FastifyReply> {
  return withUploadState(call, async () => {
    const body = hasBody(call.req);
    const start = body ? chunkStart(call) : undefined;
    const blob = await finishUpload(call.ctx, {
      ...uploadRef(call),
      digest: queryParam(call.req, "digest"),
      ...(body ? { source: call.req.raw } : {}),
      ...(start !== undefined ? { start } : {}),
      limits: limitsOf(call),
    });
    return created(call, blob.digest);
  });
}

export async function deleteUpload(call: UploadCall): Promise<FastifyReply> {
  await cancelUpload(call.ctx, uploadRef(call));
  return call.reply.code(204).send();
}
