import { DEFAULT_ROUTING, routeEvent } from "@berth/core";
import {
  type CheckpointAnswer,
  type ConsistencyAnswer,
  isRegionToken,
  type LogEntryLine,
  type RangeAnswer,
  type TrackerClient,
  TrackerRequestError,
} from "@berth/tracker-client";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import type { ApiContext } from "../context";
import { authedProcedure, router } from "../trpc";

/**
 * `log.*`: the caller's own verifiable log (docs/verifiable-log.md) read from the tracker with
 * the server's query key. The account domain is always the caller's (from the session), never
 * from input, so another tenant's entries or event ids answer "not found". Tracker answers are
 * classified here; a tenant never sees the tracker's address or its raw bodies.
 */

/** The tracker's page limit for entries. */
export const LOG_ENTRIES_PAGE_MAX = 5000;

const region = z
  .string()
  .refine(isRegionToken, { message: "is not a region name (e.g. us-south)" })
  .optional();
const index = z.int().min(0).max(Number.MAX_SAFE_INTEGER);

export const logKeyInput = z.strictObject({ region }).default({});
export const logCheckpointInput = z.strictObject({ region, size: index.optional() }).default({});
export const logInclusionInput = z
  .strictObject({
    region,
    size: index.optional(),
    index: index.optional(),
    id: z.uuid().optional(),
  })
  .refine((q) => (q.index === undefined) !== (q.id === undefined), {
    message: "give exactly one of index and id",
  });
export const logConsistencyInput = z
  .strictObject({ region, from: index, to: index })
  .refine((q) => q.from <= q.to, { message: "from must not exceed to" });
export const logRangeInput = z
  .strictObject({ region, start: index, end: index, size: index.optional() })
  .refine((q) => q.start < q.end, { message: "start must be below end" });
export const logEntriesInput = z
  .strictObject({ region, start: index, end: index })
  .refine((q) => q.start < q.end, { message: "start must be below end" })
  .refine((q) => q.end - q.start <= LOG_ENTRIES_PAGE_MAX, {
    message: `at most ${LOG_ENTRIES_PAGE_MAX} entries a page`,
  });

interface Scope {
  tracker: TrackerClient;
  region: string;
  account: string;
}

/** An authenticated context: the account is the session's. */
type Authed = ApiContext & { registry: { principal: { account: { id: string } } } };

function scope(ctx: Authed, asked: string | undefined): Scope {
  if (!ctx.tracker) {
    throw new TRPCError({
      code: "PRECONDITION_FAILED",
      message: "the event log is not available: this server has no tracker configured",
    });
  }
  return {
    tracker: ctx.tracker,
    region: asked ?? routeEvent(ctx.region, ctx.deps.routing ?? DEFAULT_ROUTING),
    account: ctx.registry.principal.account.id,
  };
}

/** Runs one tracker read, turning its failures into errors a tenant may see. */
async function read<T>(s: Scope, notFound: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof TrackerRequestError) {
      if (error.status === 404) throw new TRPCError({ code: "NOT_FOUND", message: notFound });
      if (error.status === 400)
        throw new TRPCError({
          code: "BAD_REQUEST",
          message: "the tracker refused this log request",
        });
      throw new TRPCError({
        code: "BAD_GATEWAY",
        message: `the tracker of region ${s.region} answered ${error.status}`,
      });
    }
    throw new TRPCError({
      code: "SERVICE_UNAVAILABLE",
      message: `the tracker of region ${s.region} cannot be reached`,
    });
  }
}

export const logRouter = router({
  /** The tracker's verifier key: informational only (pin it out of band). */
  key: authedProcedure.input(logKeyInput).query(async ({ ctx, input }) => {
    const s = scope(ctx, input.region);
    const key = await read(s, `the tracker does not serve region ${s.region}`, () =>
      s.tracker.log.key(s.region),
    );
    return { region: s.region, key };
  }),

  checkpoint: authedProcedure
    .input(logCheckpointInput)
    .query(async ({ ctx, input }): Promise<CheckpointAnswer & { region: string }> => {
      const s = scope(ctx, input.region);
      const found = await read(
        s,
        input.size === undefined
          ? "your log has no checkpoint yet"
          : `your log has no checkpoint of size ${input.size}`,
        () => s.tracker.log.checkpoint(s.region, s.account, input.size),
      );
      return { region: s.region, ...found };
    }),

  inclusion: authedProcedure.input(logInclusionInput).query(async ({ ctx, input }) => {
    const s = scope(ctx, input.region);
    const at = input.id !== undefined ? { id: input.id } : { index: input.index as number };
    const proof = await read(
      s,
      "no such event in your log (or not covered by that checkpoint)",
      () => s.tracker.log.inclusion(s.region, s.account, at, input.size),
    );
    return { region: s.region, proof };
  }),

  consistency: authedProcedure
    .input(logConsistencyInput)
    .query(async ({ ctx, input }): Promise<ConsistencyAnswer & { region: string }> => {
      const s = scope(ctx, input.region);
      const found = await read(s, `your log is smaller than ${input.to}`, () =>
        s.tracker.log.consistency(s.region, s.account, input.from, input.to),
      );
      return { region: s.region, ...found };
    }),

  range: authedProcedure
    .input(logRangeInput)
    .query(async ({ ctx, input }): Promise<RangeAnswer & { region: string }> => {
      const s = scope(ctx, input.region);
      const found = await read(s, `[${input.start}, ${input.end}) is not in your log`, () =>
        s.tracker.log.range(s.region, s.account, input.start, input.end, input.size),
      );
      return { region: s.region, ...found };
    }),

  entries: authedProcedure
    .input(logEntriesInput)
    .query(async ({ ctx, input }): Promise<{ region: string; entries: LogEntryLine[] }> => {
      const s = scope(ctx, input.region);
      const entries = await read(s, `your log has no entries there`, () =>
        s.tracker.log.entries(s.region, s.account, input.start, input.end),
      );
      return { region: s.region, entries };
    }),
});
