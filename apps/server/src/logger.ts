import pino, { type DestinationStream, type Logger } from "pino";

/**
 * Paths pino censors wherever they appear in a log line. Fastify's request serializer
 * logs no headers, but a handler logging a request or an input must still never leak a
 * credential.
 */
export const REDACT_PATHS = [
  "req.headers.authorization",
  'req.headers["x-api-key"]',
  "req.headers.cookie",
  "headers.authorization",
  'headers["x-api-key"]',
  "headers.cookie",
  "authorization",
  "apiKey",
  "secret",
  "password",
  "*.apiKey",
  "*.secret",
  "*.password",
  "*.authorization",
];

/**
 * pino's error serializer, minus the bound parameters of failed queries: drizzle puts them in
 * the message (`Failed query: ...\nparams: ...`) and in `params`, and they can hold hashes of
 * credentials being looked up, or whole manifests. The statement itself stays.
 */
export function serializeError(error: unknown): unknown {
  const out = pino.stdSerializers.err(error as Error) as unknown as Record<string, unknown>;
  if (!out || typeof out !== "object") return out;
  for (let e: unknown = error, depth = 0; e && depth < 6; depth++) {
    const params = (e as { params?: unknown }).params;
    if (Array.isArray(params)) {
      const text = `params: ${String(params)}`;
      for (const key of ["message", "stack"] as const) {
        if (typeof out[key] === "string") {
          out[key] = (out[key] as string).split(text).join("params: [redacted]");
        }
      }
    }
    e = (e as { cause?: unknown }).cause;
  }
  delete out.params;
  return out;
}

/**
 * A URL as logs may show it: the path alone. Query strings carry inputs, and some inputs are
 * secrets (a build subscription's `buildArgs` travel in its URL as server-sent events do).
 */
export function pathOnly(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const cut = url.search(/[?#]/);
  return cut < 0 ? url : url.slice(0, cut);
}

/** fastify's request serializer, with the URL's path only. */
function serializeRequest(req: {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}): Record<string, unknown> {
  return {
    method: req.method,
    url: pathOnly(req.url),
    host: req.host,
    remoteAddress: req.ip,
    remotePort: req.socket?.remotePort,
  };
}

export function createLogger(
  opts: { level?: string; destination?: DestinationStream } = {},
): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: { service: "berth-server" },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      serializers: { err: serializeError, req: serializeRequest },
    },
    opts.destination ?? pino.destination(1),
  );
}
