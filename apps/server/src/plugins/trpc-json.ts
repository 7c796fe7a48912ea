import type { ApiContext, AppRouter } from "@berth/api";
import {
  type AnyTRPCProcedure,
  getErrorShape,
  getTRPCErrorFromUnknown,
  TRPCError,
  transformTRPCResponse,
} from "@trpc/server";
import { getHTTPStatusCode } from "@trpc/server/http";
import type { FastifyReply, FastifyRequest } from "fastify";

/**
 * tRPC's HTTP protocol for the calls nearly every request makes: JSON queries (GET) and
 * mutations (POST), one or a batch, answered as tRPC's `resolveResponse` answers them (the
 * same body, status and headers, the same onError reports), without its Fetch API detour.
 * tRPC's fastify adapter turns each request into a `Request` with abort signals, and sends
 * back a `Response` whose body fastify pipes from a web stream: about a fifth of the
 * server's CPU per management call went there.
 *
 * Anything else goes to tRPC's own handler (`answer` returns false before doing anything):
 * subscriptions, streamed batches, other content types, unknown procedures, a method that
 * does not fit the procedure, input that is not JSON. Those are rare or already errors, and
 * tRPC's answers to them stay tRPC's.
 */
export interface JsonCallOptions {
  router: AppRouter;
  maxBatchSize: number;
  createContext: (req: FastifyRequest, reply: FastifyReply) => Promise<ApiContext>;
  onError: (opts: { error: TRPCError; path?: string; req: FastifyRequest }) => void;
}

interface Call {
  path: string;
  procedure: AnyTRPCProcedure;
  input: unknown;
  /** Whether the procedure asked for its input (tRPC reports the input of a failure only then). */
  inputRead: boolean;
}

type Outcome = [TRPCError, undefined] | [undefined, unknown];

const METHOD_OF_TYPE = { query: "GET", mutation: "POST" } as const;

/** The calls of a request this path answers, or undefined when tRPC's handler should. */
function callsOf(
  opts: JsonCallOptions,
  req: FastifyRequest,
  rawPath: string,
): { calls: Call[]; batch: boolean } | undefined {
  if (req.method !== "GET" && req.method !== "POST") return undefined;
  const headers = req.headers;
  const contentType = headers["content-type"];
  if (contentType === undefined ? req.method !== "GET" : !isJson(contentType)) return undefined;
  if (headers["trpc-accept"] !== undefined || acceptsJsonl(headers.accept)) return undefined;
  const q = req.url.indexOf("?");
  const search = new URLSearchParams(q < 0 ? "" : req.url.slice(q + 1));
  if (search.has("connectionParams")) return undefined;
  const batch = search.get("batch") === "1";
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return undefined;
  }
  const paths = batch ? path.split(",") : [path];
  if (paths.length > opts.maxBatchSize) return undefined;
  let inputs: unknown;
  try {
    const text = req.method === "GET" ? search.get("input") : (req.body as string | undefined);
    if (text) inputs = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (batch && inputs !== undefined && !isObject(inputs)) return undefined;
  const { _config } = opts.router._def;
  // Typed as the nested routers; at run time a flat map by dotted path (tRPC looks there too).
  const procedures = opts.router._def.procedures as unknown as Record<
    string,
    AnyTRPCProcedure | undefined
  >;
  const calls: Call[] = [];
  for (const [index, p] of paths.entries()) {
    const procedure = procedures[p];
    if (!procedure) return undefined;
    const type = procedure._def.type;
    if (type !== "query" && type !== "mutation") return undefined;
    if (METHOD_OF_TYPE[type] !== req.method) return undefined;
    const raw = batch ? (inputs as Record<string, unknown> | undefined)?.[index] : inputs;
    const input = raw === undefined ? undefined : _config.transformer.input.deserialize(raw);
    calls.push({ path: p, procedure, input, inputRead: false });
  }
  return { calls, batch };
}

/** Answers the request and returns true, or returns false having done nothing. */
export async function answerJsonCalls(
  opts: JsonCallOptions,
  req: FastifyRequest,
  reply: FastifyReply,
  rawPath: string,
): Promise<boolean> {
  const found = callsOf(opts, req, rawPath);
  if (!found) return false;
  const { calls, batch } = found;
  const config = opts.router._def._config;
  let ctx: ApiContext | undefined;
  let ctxError: TRPCError | undefined;
  try {
    ctx = await opts.createContext(req, reply);
  } catch (cause) {
    ctxError = getTRPCErrorFromUnknown(cause);
  }
  const outcomes = await Promise.all(
    calls.map(async (call, batchIndex): Promise<Outcome> => {
      try {
        if (ctxError) throw ctxError;
        const data: unknown = await call.procedure({
          path: call.path,
          getRawInput: async () => {
            call.inputRead = true;
            return call.input;
          },
          ctx,
          type: call.procedure._def.type,
          // Queries and mutations run to their end (a use case's transaction is not left
          // halfway because the client went); the streaming procedures that watch a signal
          // are served by tRPC's handler.
          signal: undefined,
          batchIndex,
        });
        if (isDataStream(data)) {
          throw new TRPCError({
            code: "UNSUPPORTED_MEDIA_TYPE",
            message:
              "Cannot use stream-like response in non-streaming request - use httpBatchStreamLink",
          });
        }
        return [undefined, data];
      } catch (cause) {
        const error = getTRPCErrorFromUnknown(cause);
        opts.onError({ error, path: call.path, req });
        return [error, undefined];
      }
    }),
  );
  const responses = outcomes.map(([error, data], index) => {
    const call = calls[index]!;
    return error
      ? {
          error: getErrorShape({
            config,
            ctx,
            error,
            input: call.inputRead ? call.input : undefined,
            path: call.path,
            type: call.procedure._def.type,
          }),
        }
      : { result: { data } };
  });
  // Index for index with the responses, as tRPC passes them.
  const errors = outcomes.map(([error]) => error) as TRPCError[];
  const status = getHTTPStatusCode(responses, errors);
  const body = batch
    ? transformTRPCResponse(config, responses)
    : transformTRPCResponse(config, responses[0]!);
  await reply
    .code(status)
    .header("vary", "trpc-accept, accept")
    .header("content-type", "application/json")
    // A buffer: fastify would add a charset to the content type of a string.
    .send(Buffer.from(JSON.stringify(body)));
  return true;
}

/** tRPC's test: the media type, case-insensitive, without parameters. */
function isJson(contentType: string): boolean {
  return contentType.toLowerCase().split(";", 1)[0]!.trim() === "application/json";
}

function acceptsJsonl(accept: string | undefined): boolean {
  return accept?.split(",").some((t) => t.trim() === "application/jsonl") ?? false;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && !Array.isArray(v) && typeof v === "object";
}

const isAsyncIterable = (v: unknown) => isObject(v) && Symbol.asyncIterator in v;
const isPromise = (v: unknown) =>
  (isObject(v) || typeof v === "function") &&
  typeof (v as { then?: unknown }).then === "function" &&
  typeof (v as { catch?: unknown }).catch === "function";

/** tRPC's check for data only its streaming responses can carry. */
function isDataStream(v: unknown): boolean {
  if (!isObject(v)) return false;
  if (isAsyncIterable(v)) return true;
  const values = Object.values(v);
  return values.some(isPromise) || values.some(isAsyncIterable);
}
