import type { IncomingMessage } from "node:http";
import type { CredentialSource, RegistryContext, RegistryCredential } from "@berth/registry";
import type { FastifyReply, FastifyRequest } from "fastify";

/** One authenticated request of the distribution API, as the endpoint handlers get it. */
export interface OciCall {
  req: FastifyRequest;
  reply: FastifyReply;
  ctx: RegistryContext;
  cred: RegistryCredential;
  /** Largest blob a push may upload (absent: the registry's default). */
  maxBlobBytes?: number;
  /**
   * The stored credential behind a bearer token that was not looked up yet (the reads of a
   * pull and an upload's chunks check it in their first query): CredentialGoneError if gone.
   */
  unconfirmed?: CredentialSource;
}

/** A query parameter's first value. */
export function queryParam(req: FastifyRequest, name: string): string | undefined {
  const value = (req.query as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Every value of a repeated query parameter. */
export function queryParams(req: FastifyRequest, name: string): string[] {
  const value = (req.query as Record<string, string | string[] | undefined>)[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** Whether the request carries a body (a length above zero, or chunked). */
export function hasBody(req: FastifyRequest): boolean {
  if (req.headers["transfer-encoding"] !== undefined) return true;
  const length = Number(req.headers["content-length"] ?? 0);
  return Number.isFinite(length) && length > 0;
}

/**
 * Read a body of at most `limit` bytes. A longer one is not read further (the connection
 * is closed after the answer instead of draining it) and reported as too large.
 */
export function readLimited(
  req: FastifyRequest,
  limit: number,
): Promise<{ body: Buffer; tooLarge: boolean }> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) {
    return Promise.resolve({ body: Buffer.alloc(0), tooLarge: true });
  }
  if (!hasBody(req)) return Promise.resolve({ body: Buffer.alloc(0), tooLarge: false });
  const stream: IncomingMessage = req.raw;
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      stream.off("data", onData);
      stream.off("end", onEnd);
      stream.off("error", onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        stream.pause();
        resolve({ body: Buffer.alloc(0), tooLarge: true });
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve({ body: Buffer.concat(chunks, size), tooLarge: false });
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    stream.on("data", onData);
    stream.on("end", onEnd);
    stream.on("error", onError);
  });
}

/** `Range` of an upload holding `offset` bytes: inclusive end, `0-0` when empty. */
export function uploadRange(offset: number): string {
  return `0-${Math.max(0, offset - 1)}`;
}

export function uploadLocation(name: string, id: string): string {
  return `/v2/${name}/blobs/uploads/${id}`;
}

export function blobLocation(name: string, digest: string): string {
  return `/v2/${name}/blobs/${digest}`;
}
