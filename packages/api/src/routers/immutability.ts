import {
  type GetImmutabilityInput,
  getImmutability,
  type SetImmutabilityInput,
  setImmutability,
} from "@berth/registry";
import { authedProcedure, router, typed } from "../trpc";

/** Tag immutability of a namespace or one of its repositories. */
export const immutabilityRouter = router({
  get: authedProcedure
    .input(typed<GetImmutabilityInput>())
    .query(({ ctx, input }) => getImmutability(ctx.registry, input)),
  set: authedProcedure
    .input(typed<SetImmutabilityInput>())
    .mutation(({ ctx, input }) => setImmutability(ctx.registry, input)),
});
