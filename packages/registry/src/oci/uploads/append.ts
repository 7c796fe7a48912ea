import type { Readable } from "node:stream";
import type { RegistryContext } from "../../context";
import { uploadsOf } from "../../storage/fs-uploads";
import { UploadNotFoundError, UploadOffsetError } from "../../storage/uploads";
import { type UploadRef, withSession } from "./sessions";

/**
 * Append a chunk (PATCH). `start` is the first byte of a Content-Range; a chunk that does
 * not start where the upload ends is refused (416) and changes nothing.
 */
export function appendUpload(
  ctx: RegistryContext,
  input: UploadRef & { source: Readable | Uint8Array; start?: number },
): Promise<{ offset: number }> {
  return withSession(ctx, input, async (session) => ({
    offset: await appendChunk(ctx, session.id, input.source, input.start),
  }));
}

/** Write a chunk where the upload ends (`start`, when given, must be that offset). */
export async function appendChunk(
  ctx: RegistryContext,
  id: string,
  source: Readable | Uint8Array,
  start: number | undefined,
): Promise<number> {
  const uploads = uploadsOf(ctx.store);
  const offset = await uploads.size(id);
  if (offset === null) throw new UploadNotFoundError(id);
  if (start !== undefined && start !== offset) throw new UploadOffsetError(offset, start);
  // No database write per chunk: the upload's bytes, and their file's modification time
  // (what abandoned-upload cleanup looks at), are the record of its progress.
  return uploads.append(id, source, offset);
}
