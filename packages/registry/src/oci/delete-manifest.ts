import { runAudited } from "../audit";
import { nowOf, type RegistryContext } from "../context";
import { manifestsReferencing } from "../images/records";
import { imageTarget } from "../images/resolve";
import { deleteManifest } from "../images/rm";
import { refuseRemovingTagsOf } from "../lifecycle/immutability";
import { moveToTrash, trashPlace } from "../trash/store";
import { OciFailure, ociFailureOf } from "./errors";
import { findManifest, type ManifestRequest, unknownManifest } from "./manifests";
import { ociDigest, ociRepositoryName, readableRepository, requestedImageName } from "./repository";

export interface DeletedManifest {
  digest: string;
  tags: string[];
  /** Untagged child manifests of a deleted index that went with it. */
  children: string[];
}

/**
 * container-registry.image.delete, one per manifest a DELETE by digest removes: the
 * manifest (into the trash, restorable until it expires) with its tags and references, and, for an index, each untagged child manifest
 * nothing else in the repository lists (one event each). Blob links stay until the blobs
 * are deleted or collected, as distribution keeps them. A manifest that an index of the
 * repository lists is refused (409).
 */
export function deleteManifestByDigest(
  ctx: RegistryContext,
  input: ManifestRequest,
): Promise<DeletedManifest> {
  const targetName = requestedImageName(input.repository, input.reference);
  return runAudited(ctx, {
    action: "container-registry.image.delete",
    failure: () => [{ target: imageTarget(targetName), messageDetail: targetName }],
    execute: async (tx) => {
      try {
        const name = ociRepositoryName(input.repository);
        const digest = ociDigest(input.reference);
        const { namespaceId, repositoryId } = await readableRepository(tx, ctx, name);
        const found = await findManifest(tx, repositoryId, { digest });
        if (!found) throw unknownManifest(name.name, input.reference);
        const [parent] = await manifestsReferencing(tx, repositoryId, [found.digest], {
          kind: "manifest",
          except: found.id,
          limit: 1,
        });
        if (parent) {
          throw new OciFailure(
            "DENIED",
            `manifest ${found.digest} is listed by the index ${parent.manifest}; delete that first`,
            409,
          );
        }
        await refuseRemovingTagsOf(tx, namespaceId, name.name, found.id);
        const trashed = await moveToTrash(tx, trashPlace(ctx, name.name, repositoryId), found.id, {
          reason: "image.delete",
          now: nowOf(ctx),
          days: ctx.trashDays,
        });
        const removed = await deleteManifest(tx, repositoryId, found.id, { unlinkBlobs: false });
        return {
          result: { digest: found.digest, tags: removed.tags, children: removed.children },
          records: [
            {
              target: imageTarget(targetName, name.name, found.digest),
              messageDetail: targetName,
              status: 202,
              responseData: {
                digest: found.digest,
                tags: removed.tags,
                trashedUntil: trashed.expiresAt.toISOString(),
              },
            },
            ...removed.children.map((child) => {
              const childName = `${name.name}@${child}`;
              return {
                target: imageTarget(childName, name.name, child),
                messageDetail: childName,
                status: 202,
                responseData: { digest: child, index: found.digest },
              };
            }),
          ],
        };
      } catch (error) {
        throw ociFailureOf(error);
      }
    },
  });
}
