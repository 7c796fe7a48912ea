import { parseImageReference } from "@berth/core";
import { z } from "zod";
import { field, runAudited } from "../audit";
import { nowOf, type RegistryContext } from "../context";
import { badRequest } from "../errors";
import { refuseTagMove } from "../lifecycle/immutability";
import { requireNamespace } from "../namespaces/lookup";
import { copyManifest, ensureRepository, holdBlobsAgainstGc, setTag } from "./records";
import { imageTarget, rawImageName, resolveImage } from "./resolve";

export const tagImageInput = z.object({
  /** The existing image: "ns/repo:tag" or "ns/repo@digest"; no tag means latest. */
  source: z.string(),
  /** The new tag: "ns/repo:tag", possibly in another repository or namespace of the account. */
  target: z.string(),
});
export type TagImageInput = z.input<typeof tagImageInput>;

export interface TaggedImage {
  source: string;
  target: string;
  digest: string;
}

/**
 * container-registry.image.tag: point a tag at an existing image. The target may be in
 * another repository or namespace of the same account and region; the manifest is then
 * made available there, sharing its blobs (storage counts them once).
 */
export function tagImage(ctx: RegistryContext, raw: unknown): Promise<TaggedImage> {
  return runAudited(ctx, {
    action: "container-registry.image.tag",
    failure: () => {
      const name = rawImageName(field(raw, "target"), null);
      return [{ target: { name }, messageDetail: name }];
    },
    execute: async (tx) => {
      const input = tagImageInput.parse(raw);
      const source = parseImageReference(input.source);
      const target = parseImageReference(input.target, { defaultTag: null });
      if (target.digest !== undefined) {
        throw badRequest(`the new tag must be ns/repo:tag, without a digest: "${input.target}"`);
      }
      const resolved = await resolveImage(tx, ctx, source);
      const targetNs = await requireNamespace(tx, ctx, target.namespace);
      await holdBlobsAgainstGc(tx);
      const now = nowOf(ctx);
      const repositoryId = await ensureRepository(tx, targetNs.id, target.repository);
      await refuseTagMove(tx, {
        namespaceId: targetNs.id,
        repository: target.repository,
        repositoryId,
        tag: target.tag!,
        digest: resolved.manifest.digest,
      });
      const manifestId =
        repositoryId === resolved.repositoryId
          ? resolved.manifest.id
          : await copyManifest(tx, resolved.manifest.id, repositoryId, now);
      await setTag(tx, repositoryId, target.tag!, manifestId, now);
      const digest = resolved.manifest.digest;
      return {
        result: { source: source.text, target: target.text, digest },
        records: [
          {
            target: imageTarget(target.text, target.repository, digest),
            messageDetail: target.text,
            requestData: { source: source.text, target: target.text },
            responseData: { digest },
          },
        ],
      };
    },
  });
}
