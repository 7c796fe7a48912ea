import { type ListTrashInput, listTrash, type PurgeTrashInput, purgeTrash } from "@berth/registry";
import { authedProcedure, router, typed } from "../trpc";

export const trashRouter = router({
  list: authedProcedure
    .input(typed<ListTrashInput | undefined>())
    .query(({ ctx, input }) => listTrash(ctx.registry, input)),
  purge: authedProcedure
    .input(typed<PurgeTrashInput | undefined>())
    .mutation(({ ctx, input }) => purgeTrash(ctx.registry, input)),
});
