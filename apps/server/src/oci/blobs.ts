import {
  type BlobRequest,
  bytesRead,
  CredentialGoneError,
  countServedBytes,
  deleteBlob,
  OciFailure,
  openBlob,
  type RequestedRange,
  statBlob,
} from "@berth/registry";
import type { FastifyReply } from "fastify";
import type { OciCall } from "./call";

type BlobCall = OciCall & { name: string; digest: string };

/**
 * The `Range` header of a blob GET: one range, `bytes=a-b`, `bytes=a-` or `bytes=-n`.
 * Anything else (several ranges, other units) is ignored and the whole blob is served,
 * as HTTP allows.
 */
export function parseRange(header: string | undefined): RequestedRange | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === "" && m[2] === "")) return undefined;
  if (m[1] === "") return { suffix: Number(m[2]) };
  const start = Number(m[1]);
  if (m[2] === "") return { start };
  const end = Number(m[2]);
  if (end < start) {
    throw new OciFailure("RANGE_INVALID", `range ${header} ends before it starts`);
  }
  return { start, end };
}

function blobRequest(call: BlobCall): BlobRequest {
  return {
    repository: call.name,
    digest: call.digest,
    ...(call.unconfirmed ? { unconfirmed: call.unconfirmed } : {}),
  };
}

export async function headBlob(call: BlobCall): Promise<FastifyReply> {
  const blob = await statBlob(call.ctx, blobRequest(call));
  if (!blob) throw new CredentialGoneError();
  return call.reply
    .code(200)
    .headers({
      "content-type": "application/octet-stream",
      "content-length": String(blob.size),
      "docker-content-digest": blob.digest,
      "accept-ranges": "bytes",
      etag: `"${blob.digest}"`,
    })
    .send();
}

/**
 * GET: stream the blob (or one range of it) from storage, or, where the storage serves it
 * itself (S3 with redirects on), send the client there with a 307 to a short-lived
 * presigned URL. Not audited; the bytes read for the response count as pull traffic once it
 * is over (a redirected GET counts the blob's size, which the storage then sends).
 */
export async function getBlob(call: BlobCall): Promise<FastifyReply> {
  const { ctx, req, reply } = call;
  const range = parseRange(req.headers.range);
  const blob = await openBlob(ctx, {
    ...blobRequest(call),
    ...(range ? { range } : {}),
    // A ranged GET is served here: the redirect would lose the range check's answers.
    allowRedirect: !range,
  }).catch((error: unknown) => {
    if (error instanceof OciFailure && error.ociCode === "RANGE_INVALID") {
      reply.header("content-range", "bytes */*");
    }
    throw error;
  });
  if (!blob) throw new CredentialGoneError();
  if ("redirect" in blob) {
    countServedBytes(ctx, blob.size).catch((err: unknown) =>
      req.log.warn({ err }, "could not count pull traffic"),
    );
    return reply
      .code(307)
      .headers({ location: blob.redirect, "docker-content-digest": blob.digest })
      .send();
  }
  reply.raw.once("close", () => {
    countServedBytes(ctx, bytesRead(blob.stream)).catch((err: unknown) =>
      req.log.warn({ err }, "could not count pull traffic"),
    );
  });
  return reply
    .code(blob.range ? 206 : 200)
    .headers({
      "content-type": "application/octet-stream",
      "content-length": String(blob.length),
      "docker-content-digest": blob.digest,
      "accept-ranges": "bytes",
      etag: `"${blob.digest}"`,
      ...(blob.range
        ? { "content-range": `bytes ${blob.range.start}-${blob.range.end}/${blob.size}` }
        : {}),
    })
    .send(blob.stream);
}

/** DELETE: unlink the blob from the repository (refused while a manifest uses it). */
export async function removeBlob(call: BlobCall): Promise<FastifyReply> {
  await deleteBlob(call.ctx, { repository: call.name, digest: call.digest });
  return call.reply.code(202).header("content-length", "0").send();
}
