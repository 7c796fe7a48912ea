import { z } from "zod";
import { field, runAudited } from "../audit";
import type { RegistryContext } from "../context";
import { type RemoveResult, trashImages } from "./rm";
import { bulkImageFailures } from "./untag";

/** Most images one image.bulkdelete call may name; a longer list is refused whole. */
export const MAX_BULK_DELETE = 500;

export const bulkDeleteImagesInput = z.object({
  /** "ns/repo@digest" or "ns/repo:tag" each, in any of the caller's repositories. */
  images: z
    .array(z.string())
    .min(1, "give at least one image")
    .max(
      MAX_BULK_DELETE,
      `at most ${MAX_BULK_DELETE} images per image.bulkdelete call: split the list; nothing was deleted`,
    ),
});
export type BulkDeleteImagesInput = z.input<typeof bulkDeleteImagesInput>;

/**
 * container-registry.image.bulkdelete: many images in one call, each into the trash with
 * its tags, one event per image. An image that cannot go (not found, listed by an index,
 * immutable tags) is reported in `results` with its own failure event while the others
 * go; a list over MAX_BULK_DELETE is refused before anything is deleted.
 */
export function bulkDeleteImages(ctx: RegistryContext, raw: unknown): Promise<RemoveResult> {
  return runAudited(ctx, {
    action: "container-registry.image.bulkdelete",
    failure: () => bulkImageFailures(field(raw, "images"), "latest", MAX_BULK_DELETE),
    execute: async (tx) => {
      const { images } = bulkDeleteImagesInput.parse(raw);
      return trashImages(tx, ctx, images, "image.bulkdelete");
    },
  });
}
