import type { FastifyRequest } from "fastify";
import { hasBody } from "./oci/call";

/**
 * How long a client may hold a connection without making progress. A registry streams
 * request bodies of any size (a layer is one PATCH), so there is no cap on a request's total
 * time; instead a connection with no traffic at all for `idleMs` is closed (fastify's
 * connectionTimeout), and a request body arriving slower than `minBodyBytesPerSecond`, on
 * average over each `bodyWindowMs`, is cut: a client trickling bytes cannot keep an upload
 * (its lock, its file, its socket) busy for ever. A cut upload keeps what it had before the
 * cut chunk and can be resumed.
 */
export interface ClientTimeouts {
  idleMs: number;
  /** 0: no minimum. */
  minBodyBytesPerSecond: number;
  bodyWindowMs: number;
}

export const CLIENT_TIMEOUT_DEFAULTS: ClientTimeouts = {
  idleMs: 60_000,
  minBodyBytesPerSecond: 1024,
  bodyWindowMs: 30_000,
};

/** Watch the body of `req`; cut the connection when it arrives too slowly. */
export function guardBodyRate(
  req: FastifyRequest,
  t: ClientTimeouts,
  onCut: (bytesPerSecond: number) => void,
): void {
  if (t.minBodyBytesPerSecond <= 0 || !hasBody(req)) return;
  const raw = req.raw;
  const socket = raw.socket;
  // Bytes of the connection, not of a listener on the body: a 'data' listener here would
  // start the body flowing before its handler reads it.
  let last = socket.bytesRead;
  const timer = setInterval(() => {
    if (raw.complete || raw.destroyed || socket.destroyed) {
      clearInterval(timer);
      return;
    }
    const now = socket.bytesRead;
    const rate = ((now - last) * 1000) / t.bodyWindowMs;
    last = now;
    if (rate < t.minBodyBytesPerSecond) {
      clearInterval(timer);
      onCut(rate);
      socket.destroy();
    }
  }, t.bodyWindowMs);
  timer.unref();
  const stop = () => clearInterval(timer);
  raw.once("end", stop);
  raw.once("close", stop);
}
