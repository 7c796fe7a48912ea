import {
  createExemption,
  deleteExemption,
  type ExemptionInput,
  type ListExemptionsInput,
  listExemptions,
} from "@berth/registry";
import { authedProcedure, router, typed } from "../trpc";

export const exemptionRouter = router({
  create: authedProcedure
    .input(typed<ExemptionInput>())
    .mutation(({ ctx, input }) => createExemption(ctx.registry, input)),
  delete: authedProcedure
    .input(typed<ExemptionInput>())
    .mutation(({ ctx, input }) => deleteExemption(ctx.registry, input)),
  /**
   * Not an audited action: the catalog names no event for listing exemptions. A page at a
   * time: `{ limit?, cursor? }` gives `{ items, nextCursor }`.
   */
  list: authedProcedure
    .input(typed<ListExemptionsInput | undefined>())
    .query(({ ctx, input }) => listExemptions(ctx.registry, input)),
});
