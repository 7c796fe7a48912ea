import { DEFAULT_ROUTING, OUTCOMES, routeEvent, SEVERITIES } from "@berth/core";
import {
  isRegionToken,
  type TailStream,
  type TrackerClient,
  type TrackerLine,
  TrackerRequestError,
} from "@berth/tracker-client";
import { TRPCError } from "@trpc/server";
import { z } from "zod";
import type { ApiContext } from "../context";
import { authedProcedure, router } from "../trpc";

/**
 * `events.query` and `events.tail`: the caller's account domain in a tracker region, read
 * from the tracker with the server's query key. Users never reach the tracker themselves;
 * the account filter is always the caller's own, whatever else the input says. Neither is
 * an audited action, so neither writes an event.
 */

export const EVENTS_PAGE_MAX = 1000;
export const EVENTS_PAGE_DEFAULT = 50;

const filterShape = {
  /** Tracker region; default: where this endpoint's events are routed (ap-north → ap-south). */
  region: z
    .string()
    .refine(isRegionToken, { message: "is not a region name (e.g. us-south)" })
    .optional(),
  /** Free text, matched against the message and the event. */
  query: z.string().max(500).optional(),
  action: z.array(z.string().min(1).max(200)).max(50).optional(),
  outcome: z.array(z.enum(OUTCOMES)).max(OUTCOMES.length).optional(),
  severity: z.array(z.enum(SEVERITIES)).max(SEVERITIES.length).optional(),
  /** Initiator id or name, exactly. */
  initiator: z.string().min(1).max(500).optional(),
  /** Target CRN or name, exactly; a trailing `*` matches names by prefix. */
  target: z.string().min(1).max(1000).optional(),
};

const instant = z.union([z.string().min(1).max(64), z.number().nonnegative()]);

export const eventsQueryInput = z
  .strictObject({
    ...filterShape,
    /** Oldest time: Unix seconds or ms, or an ISO-8601 instant. */
    from: instant.optional(),
    to: instant.optional(),
    size: z.int().min(1).max(EVENTS_PAGE_MAX).default(EVENTS_PAGE_DEFAULT),
    /** The `paginationId` of the previous page, for the next (older) one. */
    paginationId: z.string().min(1).max(1000).optional(),
  })
  .default({ size: EVENTS_PAGE_DEFAULT });
export type EventsQueryInput = z.input<typeof eventsQueryInput>;

export const eventsTailInput = z.strictObject(filterShape).default({});
export type EventsTailInput = z.input<typeof eventsTailInput>;

export interface EventsPage {
  /** The tracker region read. */
  region: string;
  /** Newest first. */
  lines: TrackerLine[];
  /** Pass back as `paginationId` for the next (older) page; null on the last page. */
  paginationId: string | null;
}

/** What a tail yields: `ready` once the tracker subscription is in place, then lines. */
export type TailMessage = { kind: "ready"; region: string } | { kind: "line"; line: TrackerLine };

function requireTracker(ctx: ApiContext): TrackerClient {
  if (!ctx.tracker) {
    throw new TRPCError({
      code: "PRECONDITION_FAILED",
      message: "events are not available: this server has no tracker configured",
    });
  }
  return ctx.tracker;
}

function trackerRegion(ctx: ApiContext, asked: string | undefined): string {
  if (asked) return asked;
  return routeEvent(ctx.region, ctx.deps.routing ?? DEFAULT_ROUTING);
}

function trackerMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === "string" && parsed.error !== "") return parsed.error;
  } catch {
    // not JSON: use the text
  }
  return body.slice(0, 300) || "no details";
}

/** A tracker failure as the caller should see it; never the query key, never a stack. */
function trackerFailure(error: unknown, region: string): TRPCError {
  if (error instanceof TRPCError) return error;
  if (error instanceof TrackerRequestError) {
    const detail = trackerMessage(error.body);
    if (error.status === 400) {
      return new TRPCError({ code: "BAD_REQUEST", message: `bad event query: ${detail}` });
    }
    if (error.status === 404) {
      return new TRPCError({
        code: "NOT_FOUND",
        message: `the tracker does not serve region ${region}`,
      });
    }
    return new TRPCError({
      code: "BAD_GATEWAY",
      message: `the tracker of region ${region} answered ${error.status}: ${detail}`,
      cause: error,
    });
  }
  return new TRPCError({
    code: "SERVICE_UNAVAILABLE",
    message: `the tracker of region ${region} cannot be reached`,
    cause: error,
  });
}

export const eventsRouter = router({
  query: authedProcedure
    .input(eventsQueryInput)
    .query(async ({ ctx, input }): Promise<EventsPage> => {
      const tracker = requireTracker(ctx);
      const { region: asked, paginationId, ...rest } = input;
      const region = trackerRegion(ctx, asked);
      try {
        const page = await tracker.export(region, {
          ...rest,
          account: ctx.registry.principal.account.id,
          ...(paginationId ? { pagination_id: paginationId } : {}),
        });
        return { region, lines: page.lines, paginationId: page.pagination_id };
      } catch (error) {
        throw trackerFailure(error, region);
      }
    }),

  /**
   * Live events over SSE (tRPC's httpSubscriptionLink). The first message says the tracker
   * subscription is in place, so a client can query for what it may have missed before it.
   */
  tail: authedProcedure.input(eventsTailInput).subscription(async function* ({
    ctx,
    input,
    signal,
  }): AsyncGenerator<TailMessage> {
    const tracker = requireTracker(ctx);
    const { region: asked, ...filters } = input;
    const region = trackerRegion(ctx, asked);
    let stream: TailStream;
    try {
      stream = await tracker.tail(
        region,
        { ...filters, account: ctx.registry.principal.account.id },
        signal ? { signal } : {},
      );
    } catch (error) {
      throw trackerFailure(error, region);
    }
    try {
      yield { kind: "ready", region };
      for await (const line of stream) yield { kind: "line", line };
    } finally {
      stream.close();
    }
  }),
});
