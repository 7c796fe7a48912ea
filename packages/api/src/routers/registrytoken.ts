import {
  type CreateRegistryTokenInput,
  createRegistryToken,
  type DeleteRegistryTokenInput,
  type DeleteRegistryTokensInput,
  deleteRegistryToken,
  deleteRegistryTokens,
  type GetRegistryTokenInput,
  getRegistryToken,
  type ListRegistryTokensInput,
  listRegistryTokens,
} from "@berth/registry";
import { authedProcedure, router, typed } from "../trpc";

export const registryTokenRouter = router({
  /** Returns the secret this once. */
  create: authedProcedure
    .input(typed<CreateRegistryTokenInput | undefined>())
    .mutation(({ ctx, input }) => createRegistryToken(ctx.registry, input)),
  get: authedProcedure
    .input(typed<GetRegistryTokenInput>())
    .query(({ ctx, input }) => getRegistryToken(ctx.registry, input)),
  /** A page at a time: `{ limit?, cursor? }` gives `{ items, nextCursor }`. */
  list: authedProcedure
    .input(typed<ListRegistryTokensInput | undefined>())
    .query(({ ctx, input }) => listRegistryTokens(ctx.registry, input)),
  delete: authedProcedure
    .input(typed<DeleteRegistryTokenInput>())
    .mutation(({ ctx, input }) => deleteRegistryToken(ctx.registry, input)),
});

/** `registrytokens.delete`: several tokens at once, one event per token. */
export const registryTokensRouter = router({
  delete: authedProcedure
    .input(typed<DeleteRegistryTokensInput>())
    .mutation(({ ctx, input }) => deleteRegistryTokens(ctx.registry, input)),
});
