import { digestProblem } from "@berth/core";
import type { RegistryContext } from "../context";
import { notFound, RegistryError } from "../errors";
import type { BlobSource } from "../storage/blob-store";
import { type BuildContextFiles, ContextError, MAX_CONTEXT_BYTES, readContext } from "./context";

/*
 * A build context is uploaded before the build (`POST /build/context` on the server), stored
 * in the blob store as it came, and named by its digest. It has no blob row and no repository
 * link, so it counts toward no quota and blob garbage collection removes it after its grace
 * period (an hour by default); a build started later asks for it to be uploaded again. Anyone
 * who can name the digest already has the bytes, so the digest is a fair handle for it.
 */

export interface StagedContext {
  /** Pass as `context` to image.build. */
  context: string;
  size: number;
}

export class ContextTooLargeError extends RegistryError {
  constructor(readonly limit: number) {
    super("BAD_REQUEST", `the build context is larger than ${limit} bytes`);
  }
}

/** Store an uploaded context (a tar, gzip-compressed or not), refusing it past `maxBytes`. */
export async function stageBuildContext(
  ctx: Pick<RegistryContext, "store">,
  source: BlobSource,
  opts: { maxBytes?: number } = {},
): Promise<StagedContext> {
  const limit = opts.maxBytes ?? MAX_CONTEXT_BYTES;
  if (source instanceof Uint8Array) {
    if (source.length > limit) throw new ContextTooLargeError(limit);
    const info = await ctx.store.put(source);
    return { context: info.digest, size: info.size };
  }
  let seen = 0;
  const limited = async function* (input: AsyncIterable<Uint8Array>) {
    for await (const chunk of input) {
      seen += chunk.length;
      if (seen > limit) throw new ContextTooLargeError(limit);
      yield chunk;
    }
  };
  const info = await ctx.store.put(limited(source));
  return { context: info.digest, size: info.size };
}

/** The staged context a build names, read into memory. */
export async function loadStagedContext(
  ctx: Pick<RegistryContext, "store">,
  context: string,
): Promise<BuildContextFiles> {
  if (digestProblem(context) !== undefined) {
    throw new RegistryError(
      "BAD_REQUEST",
      `context "${context.slice(0, 100)}" is not a build context id (sha256:<hex>, as the upload returned it)`,
    );
  }
  const info = await ctx.store.stat(context);
  if (!info) {
    throw notFound(
      `build context ${context} was not found: upload it (POST /build/context) and build within the hour`,
    );
  }
  try {
    return await readContext(await ctx.store.get(context));
  } catch (error) {
    if (error instanceof ContextError) throw new RegistryError("BAD_REQUEST", error.message);
    throw error;
  }
}
