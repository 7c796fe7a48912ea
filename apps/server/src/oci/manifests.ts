import { acceptedMediaRanges, MAX_MANIFEST_BYTES } from "@berth/core";
import {
  CredentialGoneError,
  deleteManifestByDigest,
  deleteTag,
  pullManifest,
  pullManifestConfirming,
  pushManifest,
  statManifest,
} from "@berth/registry";
import type { FastifyReply } from "fastify";
import { type OciCall, readLimited } from "./call";

type ManifestCall = OciCall & { name: string; reference: string };

function manifestHeaders(m: { digest: string; mediaType: string; size: number }) {
  return {
    "content-type": m.mediaType,
    "content-length": String(m.size),
    "docker-content-digest": m.digest,
    etag: `"${m.digest}"`,
  };
}

/**
 * What GET and HEAD ask for: the manifest, in a type the `Accept` header allows (none, or
 * `*∕*`: any). One of another type is MANIFEST_UNKNOWN, as distribution answers.
 */
function readOf(call: ManifestCall) {
  const accept = acceptedMediaRanges(call.req.headers.accept);
  return {
    repository: call.name,
    reference: call.reference,
    ...(accept !== undefined ? { accept } : {}),
  };
}

/** GET: the manifest's bytes as stored, one `image.pull` event, its bytes counted as traffic. */
export async function getManifest(call: ManifestCall): Promise<FastifyReply> {
  const m = call.unconfirmed
    ? await pullManifestConfirming(call.ctx, readOf(call), call.unconfirmed)
    : await pullManifest(call.ctx, readOf(call));
  if (!m) throw new CredentialGoneError();
  m.counted.catch((err: unknown) => call.req.log.warn({ err }, "could not count pull traffic"));
  return call.reply.code(200).headers(manifestHeaders(m)).send(m.content);
}

/** HEAD: the headers GET would send (same negotiation); no event, no traffic. */
export async function headManifest(call: ManifestCall): Promise<FastifyReply> {
  const m = await statManifest(call.ctx, readOf(call));
  return call.reply.code(200).headers(manifestHeaders(m)).send();
}

/** PUT: store a manifest (one `image.push` event). Bodies above 4 MiB are refused with 413. */
export async function putManifest(call: ManifestCall): Promise<FastifyReply> {
  const { body, tooLarge } = await readLimited(call.req, MAX_MANIFEST_BYTES);
  // An oversize body is left unread: the connection closes after the answer.
  if (tooLarge) call.reply.header("connection", "close");
  const contentType = call.req.headers["content-type"];
  const pushed = await pushManifest(call.ctx, {
    repository: call.name,
    reference: call.reference,
    body,
    tooLarge,
    ...(contentType ? { contentType } : {}),
  });
  return call.reply
    .code(201)
    .headers({
      location: `/v2/${call.name}/manifests/${pushed.digest}`,
      "docker-content-digest": pushed.digest,
      "content-length": "0",
      ...(pushed.subject ? { "oci-subject": pushed.subject } : {}),
    })
    .send();
}

/**
 * DELETE by digest: the manifest (one `image.delete` event per manifest removed, children
 * of an index included); by tag: only the tag (one `image.untag` event).
 */
export async function removeManifest(call: ManifestCall): Promise<FastifyReply> {
  const request = { repository: call.name, reference: call.reference };
  if (call.reference.includes(":")) await deleteManifestByDigest(call.ctx, request);
  else await deleteTag(call.ctx, request);
  return call.reply.code(202).header("content-length", "0").send();
}
