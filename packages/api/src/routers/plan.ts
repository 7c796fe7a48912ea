import { getPlan, type SetPlanInput, setPlan } from "@berth/registry";
import { authedProcedure, router, typed } from "../trpc";

export const planRouter = router({
  get: authedProcedure.query(({ ctx }) => getPlan(ctx.registry)),
  set: authedProcedure
    .input(typed<SetPlanInput>())
    .mutation(({ ctx, input }) => setPlan(ctx.registry, input)),
});
