import {
  type CreateNamespaceInput,
  createNamespace,
  type DeleteNamespaceInput,
  deleteNamespace,
  type ListNamespacesInput,
  listNamespaces,
} from "@berth/registry";
import { authedProcedure, router, typed } from "../trpc";

export const namespaceRouter = router({
  create: authedProcedure
    .input(typed<CreateNamespaceInput>())
    .mutation(({ ctx, input }) => createNamespace(ctx.registry, input)),
  delete: authedProcedure
    .input(typed<DeleteNamespaceInput>())
    .mutation(({ ctx, input }) => deleteNamespace(ctx.registry, input)),
  /** A page at a time: `{ limit?, cursor? }` gives `{ items, nextCursor }`. */
  list: authedProcedure
    .input(typed<ListNamespacesInput | undefined>())
    .query(({ ctx, input }) => listNamespaces(ctx.registry, input)),
});
