import type { RetentionImage } from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { sql } from "drizzle-orm";

/** An image retention may act on, with the ids a removal needs. */
export interface InventoryImage extends RetentionImage {
  manifestId: string;
  repositoryId: string;
}

/**
 * The images of a namespace (or of one repository) as retention counts them: top-level
 * manifests, so a multi-platform index is one image and its platform manifests go with it;
 * manifests with a subject (signatures, SBOMs) are attachments, neither counted nor removed.
 * A tagged image where tag immutability is on is marked so: retention keeps it.
 * An image's last pull is the latest of its own and its platform manifests'.
 */
export async function retentionInventory(
  tx: DbOrTx,
  scope: { namespaceId: string } | { repositoryId: string },
): Promise<InventoryImage[]> {
  const where =
    "namespaceId" in scope
      ? sql`r.namespace_id = ${scope.namespaceId}`
      : sql`r.id = ${scope.repositoryId}`;
  const rows = await tx.execute<{
    manifest_id: string;
    repository_id: string;
    repository: string;
    digest: string;
    pushed_ms: number;
    tags: string[];
    pulled_ms: number | null;
    immutable: boolean;
  }>(sql`
    select m.id as manifest_id, r.id as repository_id, r.name as repository, m.digest,
           extract(epoch from m.created_at) * 1000 as pushed_ms,
           coalesce((select json_agg(t.name order by t.name) from tags t where t.manifest_id = m.id),
                    '[]'::json) as tags,
           extract(epoch from greatest(
             (select p.last_pulled_at from manifest_pulls p
               where p.repository_id = r.id and p.digest = m.digest),
             (select max(p.last_pulled_at) from manifest_references mr
                join manifest_pulls p on p.repository_id = r.id and p.digest = mr.digest
               where mr.manifest_id = m.id and mr.kind = 'manifest')
           )) * 1000 as pulled_ms,
           exists (select 1 from tag_immutability ti
                    where ti.namespace_id = r.namespace_id and ti.repository in ('', r.name))
             as immutable
      from manifests m join repositories r on r.id = m.repository_id
     where ${where}
       and m.subject_digest is null
       and not exists (
         select 1 from manifest_references mr join manifests parent on parent.id = mr.manifest_id
          where parent.repository_id = m.repository_id and mr.kind = 'manifest'
            and mr.digest = m.digest)`);
  return rows.map((r) => ({
    manifestId: r.manifest_id,
    repositoryId: r.repository_id,
    repository: r.repository,
    digest: r.digest,
    tags: r.tags,
    pushedAt: new Date(Math.floor(Number(r.pushed_ms))),
    lastPulledAt: r.pulled_ms === null ? null : new Date(Math.floor(Number(r.pulled_ms))),
    // Tag immutability forbids removing its tags, hence the image (an untagged one may go).
    immutable: r.immutable && r.tags.length > 0,
  }));
}
