import {
  type BulkDeleteImagesInput,
  bulkDeleteImages,
  type InspectImageInput,
  inspectImage,
  type ListImagesInput,
  listImages,
  type PruneUntaggedInput,
  pruneUntagged,
  type RemoveImagesInput,
  type RestoreImageInput,
  removeImages,
  restoreImage,
  type TagImageInput,
  tagImage,
  type UntagImagesInput,
  untagImages,
} from "@berth/registry";
import { authedProcedure, router, typed } from "../trpc";
import { buildProcedure } from "./build";

export const imageRouter = router({
  /** A page at a time: `{ limit?, cursor? }` gives `{ items, nextCursor }`. */
  list: authedProcedure
    .input(typed<ListImagesInput | undefined>())
    .query(({ ctx, input }) => listImages(ctx.registry, input)),
  inspect: authedProcedure
    .input(typed<InspectImageInput>())
    .query(({ ctx, input }) => inspectImage(ctx.registry, input)),
  tag: authedProcedure
    .input(typed<TagImageInput>())
    .mutation(({ ctx, input }) => tagImage(ctx.registry, input)),
  untag: authedProcedure
    .input(typed<UntagImagesInput>())
    .mutation(({ ctx, input }) => untagImages(ctx.registry, input)),
  rm: authedProcedure
    .input(typed<RemoveImagesInput>())
    .mutation(({ ctx, input }) => removeImages(ctx.registry, input)),
  restore: authedProcedure
    .input(typed<RestoreImageInput>())
    .mutation(({ ctx, input }) => restoreImage(ctx.registry, input)),
  bulkdelete: authedProcedure
    .input(typed<BulkDeleteImagesInput>())
    .mutation(({ ctx, input }) => bulkDeleteImages(ctx.registry, input)),
  "prune-untagged": authedProcedure
    .input(typed<PruneUntaggedInput>())
    .mutation(({ ctx, input }) => pruneUntagged(ctx.registry, input)),
  build: buildProcedure,
});
