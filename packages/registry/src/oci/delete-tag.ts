import { manifests, tags } from "@berth/db";
import { and, eq } from "drizzle-orm";
import { runAudited } from "../audit";
import type { RegistryContext } from "../context";
import { imageTarget } from "../images/resolve";
import { refuseTagRemoval } from "../lifecycle/immutability";
import { ociFailureOf } from "./errors";
import { existingRef, type ManifestRequest, unknownManifest } from "./manifests";
import { ociRepositoryName, readableRepository, requestedImageName } from "./repository";

/**
 * container-registry.image.untag, one per DELETE of a manifest by tag (distribution spec
 * 1.1, as regctl, crane and oras send it): the tag goes, the manifest stays (by digest and
 * under its other tags).
 */
export function deleteTag(
  ctx: RegistryContext,
  input: ManifestRequest,
): Promise<{ digest: string }> {
  const targetName = requestedImageName(input.repository, input.reference);
  return runAudited(ctx, {
    action: "container-registry.image.untag",
    failure: () => [{ target: imageTarget(targetName), messageDetail: targetName }],
    execute: async (tx) => {
      try {
        const name = ociRepositoryName(input.repository);
        const ref = existingRef(name.name, input.reference);
        if (ref.tag === undefined) throw unknownManifest(name.name, input.reference);
        const { namespaceId, repositoryId } = await readableRepository(tx, ctx, name);
        const [removed] = await tx
          .delete(tags)
          .where(and(eq(tags.repositoryId, repositoryId), eq(tags.name, ref.tag)))
          .returning({ manifestId: tags.manifestId });
        if (!removed) throw unknownManifest(name.name, input.reference);
        // Refused after the delete: the transaction rolls it back, and an absent tag stays unknown.
        await refuseTagRemoval(tx, namespaceId, name.name, [ref.tag]);
        const [manifest] = await tx
          .select({ digest: manifests.digest })
          .from(manifests)
          .where(eq(manifests.id, removed.manifestId));
        const digest = manifest!.digest;
        return {
          result: { digest },
          records: [
            {
              target: imageTarget(targetName, name.name, digest),
              messageDetail: targetName,
              status: 202,
              responseData: { digest },
            },
          ],
        };
      } catch (error) {
        throw ociFailureOf(error);
      }
    },
  });
}
