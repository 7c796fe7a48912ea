import { sql } from "drizzle-orm";
import type { RegistryContext } from "../../context";
import { type BlobInfo, DigestMismatchError, SizeMismatchError } from "../../storage/blob-store";
import { relaxedCommit } from "../commit";
import { ociDigest } from "../repository";
import { appendChunk, type Chunk } from "./append";
import { dropSession, type UploadRef, withSession } from "./sessions";
import { storageSpace } from "./space";

/**
 * Close an upload (PUT ?digest=), with an optional last chunk: the bytes must hash to the
 * digest (else DIGEST_INVALID and the upload is dropped); then the blob is published into
 * the store, recorded and linked into the repository, all under the lock that keeps
 * garbage collection from deleting what is being linked.
 */
export function finishUpload(
  ctx: RegistryContext,
  input: UploadRef & { digest: string | undefined } & Partial<Chunk>,
): Promise<BlobInfo> {
  const space = input.source ? storageSpace(ctx) : undefined;
  return withSession(ctx, input, async (session) => {
    const digest = ociDigest(input.digest);
    if (input.source) {
      await appendChunk(ctx, input.repository, session, { ...input, source: input.source }, space);
    }
    const uploads = ctx.store.uploads();
    let info: BlobInfo;
    try {
      info = await uploads.seal(session.id, digest, session.state);
    } catch (error) {
      if (error instanceof DigestMismatchError || error instanceof SizeMismatchError) {
        await dropSession(ctx, session);
      }
      throw error;
    }
    await ctx.db.transaction(async (tx) => {
      // Asked at once (postgres.js pipelines them; Postgres runs them in order): the lock
      // and the relaxed commit first, then the blob row, the link and the end of the
      // session in one statement (the link's foreign key is checked at its end, when the
      // row is there). One round trip for both.
      await Promise.all([
        relaxedCommit(tx, { holdBlobs: true }),
        tx.execute(sql`
          with blob as (
            insert into blobs (digest, size) values (${info.digest}, ${info.size})
            on conflict do nothing),
          link as (
            insert into repository_blobs (repository_id, digest)
            values (${session.repositoryId}, ${info.digest})
            on conflict do nothing),
          done as (delete from upload_sessions where id = ${session.id})
          select 1`),
      ]);
      // Last, so that a failure before it rolls everything back with the bytes in place.
      await uploads.publish(session.id, info.digest, session.state);
    });
    session.ended = true;
    return info;
  });
}
