import { checkHttpUrl, lookupRegion, parseRegionTable, regionEndpoint } from "./config";
import { TrackerRequestError } from "./errors";
import type { ExportResponse, TrackerLine } from "./lines";
import { createLogClient, type TrackerLogClient } from "./log";
import type { ExportQuery, TailQuery } from "./query";
import { parseSse } from "./sse";

export interface TrackerClientOptions {
  /**
   * BERTH_TRACKER_URL: one base URL serving every region at `<base>/regions/<region>`, or a
   * table `us-south=<endpoint>,ap-south=<endpoint>` of region endpoints (`*=<base>` for the rest).
   */
  url: string;
  /** The tracker's query key. */
  queryKey: string;
  fetch?: typeof fetch;
}

export { TrackerRequestError } from "./errors";

export interface TailStream extends AsyncIterable<TrackerLine> {
  /** Stop the tail; the iteration ends. */
  close(): void;
  /**
   * The tail id of the line last yielded: pass it as `lastEventId` to resume after it. A
   * resumed tail first sends again the rows received shortly before it (a row can commit
   * after one with a later id), so a reader that resumes drops the event ids it already has.
   */
  readonly lastEventId: string | undefined;
}

export interface TailOptions {
  signal?: AbortSignal;
  /** Resume after this tail id (the SSE `id` of the last line seen). */
  lastEventId?: string;
}

export interface TrackerClient {
  /** One page of an account's events in a tracker region, newest first. */
  export(region: string, query: ExportQuery): Promise<ExportResponse>;
  /** Live events of an account in a tracker region; resolves once the tail is subscribed. */
  tail(region: string, query: TailQuery, opts?: TailOptions): Promise<TailStream>;
  /** The verifiable log of an account domain: key, checkpoints, proofs and entries. */
  log: TrackerLogClient;
}

/** Resolve the endpoint of a tracker region from BERTH_TRACKER_URL's value. */
export function trackerEndpoint(url: string, region: string): string | undefined {
  const table = parseRegionTable("BERTH_TRACKER_URL", url, checkHttpUrl);
  const own = Object.hasOwn(table.entries, region) ? table.entries[region] : undefined;
  if (own !== undefined) return own.replace(/\/+$/, "");
  const base = lookupRegion(table, region);
  return base === undefined ? undefined : regionEndpoint(base, region);
}

function toParams(query: Record<string, unknown>): URLSearchParams {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      if (value.length > 0) params.set(key, value.join(","));
    } else params.set(key, String(value));
  }
  return params;
}

export function createTrackerClient(opts: TrackerClientOptions): TrackerClient {
  const doFetch = opts.fetch ?? fetch;
  const auth = `Basic ${Buffer.from(`${opts.queryKey}:`).toString("base64")}`;
  const endpoint = (region: string) => {
    const e = trackerEndpoint(opts.url, region);
    if (!e) throw new Error(`no tracker endpoint is configured for region ${region}`);
    return e;
  };

  return {
    log: createLogClient((region, path, params) =>
      doFetch(`${endpoint(region)}${path}?${toParams(params)}`, {
        headers: { authorization: auth },
      }),
    ),

    async export(region, query) {
      const res = await doFetch(`${endpoint(region)}/v2/export?${toParams(query)}`, {
        headers: { authorization: auth },
      });
      const text = await res.text();
      if (!res.ok) throw new TrackerRequestError(res.status, text);
      return JSON.parse(text) as ExportResponse;
    },

    async tail(region, query, tailOpts = {}) {
      const controller = new AbortController();
      const onAbort = () => controller.abort();
      tailOpts.signal?.addEventListener("abort", onAbort, { once: true });
      const headers: Record<string, string> = {
        authorization: auth,
        accept: "text/event-stream",
      };
      if (tailOpts.lastEventId) headers["last-event-id"] = tailOpts.lastEventId;
      const res = await doFetch(`${endpoint(region)}/v2/tail?${toParams(query)}`, {
        headers,
        signal: controller.signal,
      });
      if (!res.ok || !res.body) {
        const text = await res.text().catch(() => "");
        throw new TrackerRequestError(res.status, text);
      }
      const messages = parseSse(res.body as unknown as AsyncIterable<Uint8Array>);
      // The server sends `ready` once the subscription is in place; lines sent after a
      // resolved tail() are therefore never missed.
      for (;;) {
        const first = await messages.next();
        if (first.done) throw new TrackerRequestError(res.status, "tail closed before ready");
        if (first.value.event === "ready") break;
      }
      const close = () => {
        tailOpts.signal?.removeEventListener("abort", onAbort);
        controller.abort();
      };
      let lastEventId: string | undefined;
      async function* lines(): AsyncGenerator<TrackerLine> {
        try {
          for await (const m of messages) {
            if (m.event !== "line") continue;
            const line = JSON.parse(m.data) as TrackerLine;
            if (m.id !== undefined) lastEventId = m.id;
            yield line;
          }
        } catch (error) {
          if (!controller.signal.aborted) throw error;
        } finally {
          close();
        }
      }
      const iterator = lines();
      return {
        [Symbol.asyncIterator]: () => iterator,
        close,
        get lastEventId() {
          return lastEventId;
        },
      };
    },
  };
}
