import { getQuota, type SetQuotaInput, setQuota } from "@berth/registry";
import { authedProcedure, router, typed } from "../trpc";

export const quotaRouter = router({
  get: authedProcedure.query(({ ctx }) => getQuota(ctx.registry)),
  set: authedProcedure
    .input(typed<SetQuotaInput>())
    .mutation(({ ctx, input }) => setQuota(ctx.registry, input)),
});
