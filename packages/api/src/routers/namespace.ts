import {
  type CreateNamespaceInput,
  createNamespace,
  type DeleteNamespaceInput,
  deleteNamespace,
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
  list: authedProcedure.query(({ ctx }) => listNamespaces(ctx.registry)),
});
