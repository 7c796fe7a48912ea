import { parseImageReference } from "@berth/core";
import { tags } from "@berth/db";
import { and, eq } from "drizzle-orm";
import { z } from "zod";
import { field, runAudited } from "../audit";
import { type BulkOutcome, BulkRecorder, MAX_BULK } from "../bulk";
import type { RegistryContext } from "../context";
import { badRequest } from "../errors";
import { refuseTagRemoval } from "../lifecycle/immutability";
import { imageTarget, rawImageName, resolveImage } from "./resolve";

export const untagImagesInput = z.object({
  /** "ns/repo:tag" each; the tag is required (untag never assumes latest). */
  images: z.array(z.string()).min(1, "give at least one image").max(MAX_BULK),
});
export type UntagImagesInput = z.input<typeof untagImagesInput>;

export interface UntagResult {
  /** The tags removed, "ns/repo:tag". */
  untagged: string[];
  results: BulkOutcome[];
}

/**
 * container-registry.image.untag: remove each given tag; the manifests stay (by digest and
 * under their other tags). One event per image.
 */
export function untagImages(ctx: RegistryContext, raw: unknown): Promise<UntagResult> {
  return runAudited(ctx, {
    action: "container-registry.image.untag",
    failure: () => bulkImageFailures(field(raw, "images"), null),
    execute: async (tx) => {
      const { images } = untagImagesInput.parse(raw);
      const bulk = new BulkRecorder();
      const untagged: string[] = [];
      for (const given of new Set(images)) {
        const name = rawImageName(given, null);
        try {
          const ref = parseImageReference(given, { defaultTag: null });
          if (ref.tag === undefined) {
            throw badRequest(`untag needs a tag, not a digest: write ${ref.repository}:<tag>`);
          }
          const byTag = { ...ref, digest: undefined, text: `${ref.repository}:${ref.tag}` };
          const resolved = await resolveImage(tx, ctx, byTag);
          if (ref.digest !== undefined && ref.digest !== resolved.manifest.digest) {
            throw badRequest(`${byTag.text} does not point at ${ref.digest}`);
          }
          await refuseTagRemoval(tx, resolved.namespace.id, ref.repository, [ref.tag]);
          await tx
            .delete(tags)
            .where(and(eq(tags.repositoryId, resolved.repositoryId), eq(tags.name, ref.tag)));
          untagged.push(byTag.text);
          bulk.ok(given, {
            target: imageTarget(byTag.text, ref.repository, resolved.manifest.digest),
            messageDetail: byTag.text,
            responseData: { digest: resolved.manifest.digest },
          });
        } catch (thrown) {
          bulk.fail(given, { name }, thrown, name);
        }
      }
      return { result: { untagged, results: bulk.results }, records: bulk.records };
    },
  });
}

/** Failure records of a bulk image request whose input as a whole was unusable. */
export function bulkImageFailures(images: unknown, defaultTag: string | null, max = MAX_BULK) {
  if (!Array.isArray(images) || images.length === 0 || images.length > max) {
    return [{ target: { name: "invalid" } }];
  }
  const names = [...new Set(images.map((i) => rawImageName(i, defaultTag)))];
  return names.map((name) => ({ target: { name }, messageDetail: name }));
}
