import type { Readable } from "node:stream";
import type { RegistryContext } from "../../context";
import { UploadNotFoundError, UploadOffsetError } from "../../storage/uploads";
import { recordRefusal } from "../audit";
import { type UploadRef, type UploadSession, withSession } from "./sessions";
import {
  guardChunk,
  isSpaceRefusal,
  type StorageSpace,
  storageSpace,
  type UploadLimits,
} from "./space";

/** A chunk as a request brings it. */
export interface Chunk {
  source: Readable | Uint8Array;
  /** First byte of its Content-Range, when it had one. */
  start?: number;
  limits?: UploadLimits;
}

/**
 * Append a chunk (PATCH). `start` is the first byte of a Content-Range; a chunk that does
 * not start where the upload ends is refused (416) and changes nothing. A chunk past the
 * blob size cap or the storage quota is refused (a failed `image.push`) and rolled back.
 */
export function appendUpload(
  ctx: RegistryContext,
  input: UploadRef & Chunk,
): Promise<{ offset: number }> {
  const space = storageSpace(ctx);
  return withSession(ctx, input, async (session) => ({
    offset: await appendChunk(ctx, input.repository, session, input, space),
  }));
}

/** Write a chunk where the upload ends (`start`, when given, must be that offset). */
export async function appendChunk(
  ctx: RegistryContext,
  repository: string,
  session: UploadSession,
  chunk: Chunk,
  /** The chunk's storage check, when the caller started it already (`storageSpace`). */
  space?: Promise<StorageSpace>,
): Promise<number> {
  const uploads = ctx.store.uploads();
  const offset = await uploads.size(session.id, session.state);
  if (offset === null) throw new UploadNotFoundError(session.id);
  if (chunk.start !== undefined && chunk.start !== offset) {
    throw new UploadOffsetError(offset, chunk.start);
  }
  let guarded: Awaited<ReturnType<typeof guardChunk>> | undefined;
  try {
    guarded = await guardChunk(ctx, offset, chunk.source, chunk.limits, space);
    // The session's row gets the new state and size when the request lets go of it.
    session.size = await uploads.append(session.id, guarded.stream, offset, session.state);
    return session.size;
  } catch (error) {
    guarded?.rollback();
    if (isSpaceRefusal(error)) {
      throw await recordRefusal(ctx, "container-registry.image.push", repository, error);
    }
    throw error;
  }
}
