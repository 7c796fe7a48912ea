import { namespaces, repositories, repositoryBlobs } from "@berth/db";
import { and, eq } from "drizzle-orm";
import { accountId, type RegistryContext } from "../../context";
import { ensureRepository, holdBlobsAgainstGc, linkBlobs } from "../../images/records";
import type { BlobInfo } from "../../storage/blob-store";
import { linkedBlob } from "../blobs";
import { ociDigest, ociRepositoryName, readableRepository } from "../repository";
import { auditedStart, startChecks } from "./push-start";

/**
 * Cross-repository mount: link a blob the caller already holds (in `from`, or with no
 * `from` in any of its repositories of the region) into the target repository without
 * moving bytes. Null when there is nothing to mount: the client then uploads.
 */
export function mountBlob(
  ctx: RegistryContext,
  input: { repository: string; digest: string; from?: string },
): Promise<BlobInfo | null> {
  return auditedStart(ctx, input.repository, async () => {
    const digest = ociDigest(input.digest);
    const { name, row } = await startChecks(ctx, input.repository);
    let source: string | null = null;
    if (input.from !== undefined) {
      const fromName = ociRepositoryName(input.from);
      const from = await readableRepository(ctx.db, ctx, fromName).catch(() => null);
      if (from && (await linkedBlob(ctx.db, from.repositoryId, digest))) {
        source = from.repositoryId;
      }
    } else {
      source = await anyRepositoryWith(ctx, digest);
    }
    if (!source || !(await ctx.store.stat(digest))) return null;
    return ctx.db.transaction(async (tx) => {
      await holdBlobsAgainstGc(tx);
      // Checked again under the lock: garbage collection may have taken it meanwhile.
      const blob = await linkedBlob(tx, source, digest);
      if (!blob) return null;
      const repositoryId =
        row.repositoryId ?? (await ensureRepository(tx, row.namespaceId, name.name));
      await linkBlobs(tx, repositoryId, [digest]);
      return blob;
    });
  });
}

async function anyRepositoryWith(ctx: RegistryContext, digest: string): Promise<string | null> {
  const rows = await ctx.db
    .select({ id: repositories.id })
    .from(repositoryBlobs)
    .innerJoin(repositories, eq(repositories.id, repositoryBlobs.repositoryId))
    .innerJoin(namespaces, eq(namespaces.id, repositories.namespaceId))
    .where(
      and(
        eq(repositoryBlobs.digest, digest),
        eq(namespaces.accountId, accountId(ctx)),
        eq(namespaces.region, ctx.region),
      ),
    )
    .limit(1);
  return rows[0]?.id ?? null;
}
