import { DEFAULT_ROUTING, OUTCOMES, routeEvent, SEVERITIES } from "@berth/core";
import {
  isRegionToken,
  type TailStream,
  type TrackerClient,
  type TrackerLine,
  TrackerRequestError,
  trackerEndpoint,
} from "@berth/tracker-client";
import { TRPCError, tracked } from "@trpc/server";
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

export const eventsTailInput = z
  .strictObject({
    ...filterShape,
    /**
     * Resume after this tail id: tRPC's client sends the id of the last line it got when it
     * reconnects (the line messages are tracked), and the tracker sends what was missed.
     */
    lastEventId: z
      .string()
      .regex(/^\d{1,15}$/, "is not a tail id")
      .nullish(),
  })
  .default({});
export type EventsTailInput = z.input<typeof eventsTailInput>;

export interface EventsPage {
  /** The tracker region read. */
  region: string;
  /** Newest first. */
  lines: TrackerLine[];
  /** Pass back as `paginationId` for the next (older) page; null on the last page. */
  paginationId: string | null;
}

/**
 * What a tail yields: `ready` once the tracker subscription is in place, then lines. Lines
 * come tracked (`{ id, data }` on the client): the id is where a reconnect resumes. A resumed
 * tail may send again lines received shortly before that id; readers drop ids they have.
 */
export type TailMessage = { kind: "ready"; region: string } | { kind: "line"; line: TrackerLine };

/** Open tails per account on one server listener, unless its deps say otherwise. */
export const DEFAULT_MAX_TAILS_PER_ACCOUNT = 10;
const openTails = new WeakMap<object, Map<string, number>>();

/** Count a tail of the account on this listener; TOO_MANY_REQUESTS past the limit. */
function acquireTail(ctx: ApiContext, account: string): () => void {
  let open = openTails.get(ctx.deps);
  if (!open) {
    open = new Map();
    openTails.set(ctx.deps, open);
  }
  const limit = ctx.deps.maxTailsPerAccount ?? DEFAULT_MAX_TAILS_PER_ACCOUNT;
  const n = open.get(account) ?? 0;
  if (n >= limit) {
    throw new TRPCError({
      code: "TOO_MANY_REQUESTS",
      message: `too many open live tails for this account (at most ${limit}): close one first`,
    });
  }
  open.set(account, n + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    const left = (open.get(account) ?? 1) - 1;
    if (left > 0) open.set(account, left);
    else open.delete(account);
  };
}

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

/** A URL anywhere in a message the tracker wrote: never shown to a tenant. */
const URLS = /\b[a-z][a-z0-9+.-]*:\/\/\S+/gi;

/** The reason of a refused query, from the tracker's JSON answer only, URLs removed. */
function queryProblem(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (typeof parsed.error === "string" && parsed.error !== "") {
      return parsed.error.replace(URLS, "<url>").slice(0, 300);
    }
  } catch {
    // not JSON: nothing from it reaches the caller
  }
  return undefined;
}

/**
 * A tracker failure as a tenant sees it: a classified reason, never the tracker's URL, its
 * raw answer, the query key or a stack. The detail (endpoint, status, body) is the error's
 * cause, which the server logs for operators.
 */
function trackerFailure(ctx: ApiContext, error: unknown, region: string): TRPCError {
  if (error instanceof TRPCError) return error;
  const endpoint = ctx.deps.tracker
    ? (trackerEndpoint(ctx.deps.tracker.url, region) ?? ctx.deps.tracker.url)
    : "none";
  const what =
    error instanceof TrackerRequestError
      ? `answered ${error.status}: ${error.body.slice(0, 2000)}`
      : `${(error as Error)?.message ?? String(error)}${(error as { cause?: Error })?.cause ? ` (${(error as { cause: Error }).cause.message})` : ""}`;
  const cause = new Error(`tracker ${endpoint} (region ${region}) ${what}`, { cause: error });
  if (error instanceof TrackerRequestError) {
    if (error.status === 400) {
      const problem = queryProblem(error.body);
      return new TRPCError({
        code: "BAD_REQUEST",
        message: `bad event query${problem ? `: ${problem}` : ""}`,
        cause,
      });
    }
    if (error.status === 404) {
      return new TRPCError({
        code: "NOT_FOUND",
        message: `the tracker does not serve region ${region}`,
        cause,
      });
    }
    if (error.status === 429) {
      return new TRPCError({
        code: "TOO_MANY_REQUESTS",
        message: "too many open live tails for this account: close one first",
        cause,
      });
    }
    return new TRPCError({
      code: "BAD_GATEWAY",
      message: `tracker unavailable: the tracker of region ${region} refused the request (tracker error)`,
      cause,
    });
  }
  return new TRPCError({
    code: "SERVICE_UNAVAILABLE",
    message: `tracker unavailable: the tracker of region ${region} cannot be reached`,
    cause,
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
        throw trackerFailure(ctx, error, region);
      }
    }),

  /**
   * Live events over SSE (tRPC's httpSubscriptionLink). The first message says the tracker
   * subscription is in place, so a client can query for what it may have missed before it.
   * Lines are tracked: when the tracker or this server goes away, the client reconnects by
   * itself and resumes after the last line it got (the tail ends with a retryable error
   * instead of completing, so the client does not take the cut for the end).
   */
  tail: authedProcedure.input(eventsTailInput).subscription(async function* ({
    ctx,
    input,
    signal,
  }) {
    const tracker = requireTracker(ctx);
    const { region: asked, lastEventId, ...filters } = input;
    const region = trackerRegion(ctx, asked);
    const account = ctx.registry.principal.account.id;
    const release = acquireTail(ctx, account);
    try {
      let stream: TailStream;
      try {
        stream = await tracker.tail(
          region,
          { ...filters, account },
          { ...(signal ? { signal } : {}), ...(lastEventId ? { lastEventId } : {}) },
        );
      } catch (error) {
        throw trackerFailure(ctx, error, region);
      }
      // Ids only grow, so a reconnect never goes back to before what was already seen (the
      // lines a resume sends again have lower ids).
      let last = lastEventId ? Number(lastEventId) : 0;
      try {
        yield { kind: "ready", region } satisfies TailMessage as TailMessage;
        for await (const line of stream) {
          last = Math.max(last, Number(stream.lastEventId ?? 0));
          yield tracked(String(last), { kind: "line", line } satisfies TailMessage as TailMessage);
        }
      } catch (error) {
        if (!signal?.aborted) throw trackerFailure(ctx, error, region);
      } finally {
        stream.close();
      }
      if (!signal?.aborted) {
        throw new TRPCError({
          code: "SERVICE_UNAVAILABLE",
          message: `tracker unavailable: the live tail of region ${region} was cut; reconnecting resumes it`,
        });
      }
    } finally {
      release();
    }
  }),
});
