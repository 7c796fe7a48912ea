import { MEDIA_TYPES } from "@berth/core";
import { listCatalog, listReferrers, listTags } from "@berth/registry";
import type { FastifyReply } from "fastify";
import { type OciCall, queryParam } from "./call";

/** `n` and `last` of a paginated list; `n` that is not a number is passed on to be refused. */
function pageOf(call: OciCall): { n?: number; last?: string } {
  const n = queryParam(call.req, "n");
  const last = queryParam(call.req, "last");
  return {
    ...(n !== undefined ? { n: /^\d+$/.test(n) ? Number(n) : Number.NaN } : {}),
    ...(last !== undefined ? { last } : {}),
  };
}

/**
 * RFC 5988 link to the next page, as the spec asks; `n` is the page size used (the one
 * asked for, capped), as the reference registry writes it.
 */
function linkNext(path: string, n: number, next: string): string {
  const query = new URLSearchParams({ n: String(n), last: next });
  return `<${path}?${query.toString()}>; rel="next"`;
}

export async function getTags(call: OciCall & { name: string }): Promise<FastifyReply> {
  const page = pageOf(call);
  const list = await listTags(call.ctx, { repository: call.name, ...page });
  if (list.next !== undefined) {
    call.reply.header("link", linkNext(`/v2/${list.name}/tags/list`, list.n, list.next));
  }
  return call.reply.code(200).send({ name: list.name, tags: list.tags });
}

export async function getCatalog(call: OciCall): Promise<FastifyReply> {
  const page = pageOf(call);
  const catalog = await listCatalog(call.ctx, page);
  if (catalog.next !== undefined) {
    call.reply.header("link", linkNext("/v2/_catalog", catalog.n, catalog.next));
  }
  return call.reply.code(200).send({ repositories: catalog.repositories });
}

export async function getReferrers(
  call: OciCall & { name: string; digest: string },
): Promise<FastifyReply> {
  const artifactType = queryParam(call.req, "artifactType");
  const { index, filtered } = await listReferrers(call.ctx, {
    repository: call.name,
    digest: call.digest,
    ...(artifactType !== undefined ? { artifactType } : {}),
  });
  if (filtered) call.reply.header("oci-filters-applied", "artifactType");
  return call.reply
    .code(200)
    .header("content-type", MEDIA_TYPES.ociIndex)
    .send(Buffer.from(JSON.stringify(index)));
}
