import http from "node:http";
import type { AddressInfo } from "node:net";
import { healthAnswer } from "@berth/service";
import type { Logger } from "pino";
import type { Registry } from "prom-client";

export interface StatusServer {
  url: string;
  close(): Promise<void>;
}

/**
 * The worker's own HTTP server: /metrics (Prometheus), /healthz and /readyz (the shared
 * answers of every Berth process). It serves nothing else, and no error text.
 */
export async function serveStatus(opts: {
  host: string;
  /** 0 picks a free port (the URL tells which). */
  port: number;
  registry: Registry;
  ready: () => Promise<unknown>;
  log: Logger;
}): Promise<StatusServer> {
  const server = http.createServer((req, res) => {
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { "content-type": type });
      res.end(body);
    };
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    const answer = async () => {
      if (path === "/metrics") {
        return reply(200, opts.registry.contentType, await opts.registry.metrics());
      }
      const health = await healthAnswer(path, { ready: opts.ready, log: opts.log });
      if (health) return reply(health.statusCode, "application/json", JSON.stringify(health.body));
      reply(404, "application/json", '{"status":"error","error":"not found"}');
    };
    answer().catch((error: unknown) => {
      opts.log.error({ err: error, path }, "status request failed");
      if (!res.headersSent) reply(500, "application/json", '{"status":"error"}');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host.includes(":") ? `[${opts.host}]` : opts.host;
  return {
    url: `http://${host}:${port}`,
    close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    },
  };
}
