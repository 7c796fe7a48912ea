import {
  analyzeRetention,
  type GetRetentionInput,
  getRetention,
  type RetentionRunInput,
  runRetention,
  type SetRetentionInput,
  setRetention,
} from "@berth/registry";
import { authedProcedure, router, typed } from "../trpc";

/** Retention policies of namespaces (issue 19): set, get, analyze, run on demand. */
export const retentionRouter = router({
  set: authedProcedure
    .input(typed<SetRetentionInput>())
    .mutation(({ ctx, input }) => setRetention(ctx.registry, input)),
  get: authedProcedure
    .input(typed<GetRetentionInput>())
    .query(({ ctx, input }) => getRetention(ctx.registry, input)),
  analyze: authedProcedure
    .input(typed<RetentionRunInput>())
    .query(({ ctx, input }) => analyzeRetention(ctx.registry, input)),
  run: authedProcedure
    .input(typed<RetentionRunInput>())
    .mutation(({ ctx, input }) => runRetention(ctx.registry, input)),
});
