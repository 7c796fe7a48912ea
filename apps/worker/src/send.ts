import http from "node:http";
import https from "node:https";

export interface SendResult {
  status: number;
  body: string;
  retryAfter?: string;
}

/** A failure that says nothing about the events: the receiver may well take them later. */
export class TransientError extends Error {
  override readonly name = "TransientError";
  constructor(
    message: string,
    /** What a tenant is told: the tracker could not be reached, or did not answer in time. */
    readonly kind: "unreachable" | "timeout" = "unreachable",
  ) {
    super(message);
  }
}

export class AbortedError extends Error {
  override readonly name = "AbortedError";
}

/**
 * Keep-alive HTTP client for ingestion requests. node:http with a pooled agent costs far less
 * per request than fetch, and the worker sends thousands of requests a second at full speed.
 */
export class Sender {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(maxSockets: number) {
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets });
  }

  post(
    url: URL,
    body: Buffer,
    headers: Record<string, string>,
    opts: { timeoutMs: number; signal: AbortSignal },
  ): Promise<SendResult> {
    return new Promise((resolve, reject) => {
      if (opts.signal.aborted) {
        reject(new AbortedError("shutting down"));
        return;
      }
      const mod = url.protocol === "https:" ? https : http;
      const req = mod.request(
        url,
        {
          method: "POST",
          agent: url.protocol === "https:" ? this.httpsAgent : this.httpAgent,
          headers: {
            "content-type": "application/json",
            "content-length": String(body.length),
            ...headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            cleanup();
            resolve({
              status: res.statusCode ?? 0,
              body: Buffer.concat(chunks).toString("utf8"),
              retryAfter: res.headers["retry-after"],
            });
          });
          res.on("error", (e) => fail(new TransientError(`response: ${e.message}`)));
        },
      );
      const timer = setTimeout(() => {
        req.destroy(new TransientError(`no answer within ${opts.timeoutMs} ms`, "timeout"));
      }, opts.timeoutMs);
      const onAbort = () => req.destroy(new AbortedError("shutting down"));
      opts.signal.addEventListener("abort", onAbort, { once: true });
      const cleanup = () => {
        clearTimeout(timer);
        opts.signal.removeEventListener("abort", onAbort);
      };
      const fail = (error: Error) => {
        cleanup();
        reject(error);
      };
      req.on("error", (e: NodeJS.ErrnoException) => {
        if (e instanceof TransientError || e instanceof AbortedError) fail(e);
        else fail(new TransientError(e.code ? `${e.code}: ${e.message}` : e.message));
      });
      req.end(body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}
