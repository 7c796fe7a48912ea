import type { Readable } from "node:stream";
import type { BlobStore, ByteRange } from "./blob-store";

/**
 * Stream a blob (or an inclusive byte range of it) for a response. Drivers fail here, not in
 * the middle of the response, when the blob is missing.
 */
export function streamBlob(
  store: BlobStore,
  digest: string,
  range?: Required<ByteRange>,
): Promise<Readable> {
  return store.get(digest, range);
}
