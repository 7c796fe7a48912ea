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

export function createLogger(
  opts: { level?: string; destination?: DestinationStream } = {},
): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: { service: "berth-server" },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    },
    opts.destination ?? pino.destination(1),
  );
}
