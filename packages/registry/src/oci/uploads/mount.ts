import type { RegistryContext } from "../../context";
import { ensureRepository, holdBlobsAgainstGc, linkBlobs } from "../../images/records";
import type { BlobInfo } from "../../storage/blob-store";
import { linkedBlob } from "../blobs";
import { ociDigest, ociRepositoryName, readableRepository } from "../repository";
import { auditedStart, startChecks } from "./push-start";

/**
 * Cross-repository mount: link a blob of the caller's repository `from` into the target
 * repository without moving bytes. Null when there is nothing to mount: the client then
 * uploads. There is no mount without `from`: searching every repository of the account
 * would let a credential limited to one repository link (and so read) another's blobs.
 * The caller must have checked that the credential may pull from `from`.
 */
export function mountBlob(
  ctx: RegistryContext,
  input: { repository: string; digest: string; from: string },
): Promise<BlobInfo | null> {
  return auditedStart(ctx, input.repository, async () => {
    const digest = ociDigest(input.digest);
    const { name, row } = await startChecks(ctx, input.repository);
    const fromName = ociRepositoryName(input.from);
    const from = await readableRepository(ctx.db, ctx, fromName).catch(() => null);
    if (!from || !(await linkedBlob(ctx.db, from.repositoryId, digest))) return null;
    if (!(await ctx.store.stat(digest))) return null;
    const source = from.repositoryId;
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
