import type { AppRouter } from "@berth/api";
import {
  createTRPCClient,
  httpBatchLink,
  httpLink,
  httpSubscriptionLink,
  splitLink,
  type TRPCClient,
  TRPCClientError,
} from "@trpc/client";
import { EventSource } from "eventsource";

export type { AppRouter } from "@berth/api";
export { TRPCClientError };

export interface BerthClientOptions {
  /** Base URL of a Berth region endpoint (`http://127.0.0.1:5000`), or its `/trpc` URL. */
  url: string;
  /** The API key; sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Batch calls made in the same tick into one HTTP request (they then share a request id). */
  batch?: boolean;
  /** Extra headers on every request (User-Agent, say). */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
}

/**
 * Per-call context: `requestId` is sent as `x-request-id` and becomes the correlationId of
 * the events the call produces.
 *
 *     await client.namespace.create.mutate({ name: "birds" }, { context: { requestId } })
 */
export interface BerthCallContext {
  requestId?: string;
}

export type BerthClient = TRPCClient<AppRouter>;

export function trpcUrl(url: string): string {
  const base = url.replace(/\/+$/, "");
  return base.endsWith("/trpc") ? base : `${base}/trpc`;
}

/** A typed client of the management API. */
export function createBerthClient(opts: BerthClientOptions): BerthClient {
  const headers = (context: Record<string, unknown> | undefined) => {
    const h: Record<string, string> = { ...opts.headers };
    if (opts.apiKey) h.authorization = `Bearer ${opts.apiKey}`;
    const requestId = context?.requestId;
    if (typeof requestId === "string" && requestId !== "") h["x-request-id"] = requestId;
    return h;
  };
  const common = { url: trpcUrl(opts.url), ...(opts.fetch ? { fetch: opts.fetch } : {}) };
  const baseFetch = opts.fetch ?? fetch;
  return createTRPCClient<AppRouter>({
    links: [
      splitLink({
        condition: (op) => op.type === "subscription",
        // Subscriptions (events.tail) are server-sent events. Node has no EventSource of its
        // own, and the browser's cannot send headers; this one sends the API key through a
        // custom fetch, so the key never travels in the URL.
        true: httpSubscriptionLink({
          url: common.url,
          EventSource,
          eventSourceOptions: ({ op }) => ({
            fetch: (input, init) =>
              baseFetch(input, {
                ...init,
                headers: { ...init?.headers, ...headers(op.context) },
              }),
          }),
        }),
        false: opts.batch
          ? httpBatchLink({
              ...common,
              // The server refuses batches of more calls (MAX_BATCH_SIZE in @berth/api).
              maxItems: 50,
              headers: ({ opList }) => headers(opList[0]?.context),
            })
          : httpLink({ ...common, headers: ({ op }) => headers(op.context) }),
      }),
    ],
  });
}

/** Berth's error code of a failed call (NOT_FOUND, PLAN_LIMIT...), when it has one. */
export function berthErrorCode(error: unknown): string | undefined {
  if (!(error instanceof TRPCClientError)) return undefined;
  const data = error.data as { berthCode?: string | null; code?: string } | undefined;
  return data?.berthCode ?? data?.code ?? undefined;
}

/** What `POST /build/context` answers: pass `context` to `image.build`. */
export interface UploadedBuildContext {
  context: string;
  size: number;
}

/**
 * Upload a build context (a tar, gzip-compressed or not, at most 50 MB) before calling the
 * `image.build` subscription with the `context` it returns.
 */
export async function uploadBuildContext(
  opts: Pick<BerthClientOptions, "url" | "apiKey" | "headers" | "fetch">,
  tar: Uint8Array,
  context?: BerthCallContext,
): Promise<UploadedBuildContext> {
  const base = trpcUrl(opts.url).replace(/\/trpc$/, "");
  const headers: Record<string, string> = {
    ...opts.headers,
    "content-type": "application/x-tar",
  };
  if (opts.apiKey) headers.authorization = `Bearer ${opts.apiKey}`;
  if (context?.requestId) headers["x-request-id"] = context.requestId;
  const response = await (opts.fetch ?? fetch)(`${base}/build/context`, {
    method: "POST",
    headers,
    body: tar,
  });
  const text = await response.text();
  let body: { context?: unknown; size?: unknown; error?: unknown } = {};
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    // not JSON: reported below with the status
  }
  if (response.status !== 201 || typeof body.context !== "string") {
    const reason = typeof body.error === "string" ? body.error : text.slice(0, 200) || "no details";
    throw new BuildContextUploadError(response.status, reason);
  }
  return { context: body.context, size: Number(body.size) };
}

export class BuildContextUploadError extends Error {
  override readonly name = "BuildContextUploadError";
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(`uploading the build context failed (${status}): ${reason}`);
  }
}

/**
 * A subscription message without its tracking: events.tail sends its lines tracked
 * (`{ id, data }`, the id being where a reconnect resumes) and its `ready` as is.
 */
export function untracked<T extends object>(message: T | { id: string; data: T }): T {
  return "id" in message && "data" in message && typeof message.id === "string"
    ? (message.data as T)
    : (message as T);
}
