/**
 * HTTP receivers of the worker's webhook and CloudEvents destinations, verifying what they get
 * with the official libraries, and a TCP proxy that can hold a receiver's answers (so a test
 * can kill the worker with a batch provably received but not acknowledged).
 */
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { HTTP } from "cloudevents";
import { Webhook } from "standardwebhooks";

export interface ReceiverState {
  /** Answer with this status (200: take the events). */
  status: number;
  /** Wait this long before answering each request. */
  delayMs: number;
  requests: number;
  /** Events taken (2xx answered), by id, with how many times each was taken. */
  taken: Map<string, number>;
  badSignatures: number;
  events: { id: string; type: string; source: string; data: unknown }[];
}

/** Events taken more than once (a receiver deduping by id sees each once). */
export const repeats = (taken: Map<string, number>) =>
  [...taken.values()].reduce((a, n) => a + n - 1, 0);

/**
 * An HTTP receiver whose answers the test controls (status, delay), which can go down
 * (connections refused) and come back on the same port. `webhook` receivers verify every
 * request with the official standardwebhooks package, as a real receiver would, and count a
 * webhook-id seen before; `cloudevents` ones parse the batch with the official SDK.
 */
export async function startReceiver(
  kind: "webhook" | "cloudevents",
  opts: { secret?: string } = {},
) {
  const verifier = opts.secret ? new Webhook(opts.secret) : undefined;
  const state: ReceiverState = {
    status: 200,
    delayMs: 0,
    requests: 0,
    taken: new Map(),
    badSignatures: 0,
    events: [],
  };
  const take = (req: http.IncomingMessage, body: string): string[] => {
    if (kind === "webhook") {
      const e = verifier!.verify(body, req.headers as Record<string, string>) as { id: string };
      if (e.id !== req.headers["webhook-id"]) throw new Error("webhook-id is not the event id");
      return [e.id];
    }
    if (req.headers["content-type"] !== "application/cloudevents-batch+json") {
      throw new Error(`content-type ${req.headers["content-type"]}`);
    }
    const parsed = HTTP.toEvent({ headers: req.headers, body });
    const list = Array.isArray(parsed) ? parsed : [parsed];
    for (const e of list) {
      state.events.push({ id: e.id, type: e.type, source: e.source, data: e.data });
    }
    return list.map((e) => e.id);
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      state.requests++;
      const body = Buffer.concat(chunks).toString("utf8");
      if (state.delayMs) await new Promise((r) => setTimeout(r, state.delayMs));
      if (state.status !== 200) {
        res.writeHead(state.status).end("not now");
        return;
      }
      let ids: string[];
      try {
        ids = take(req, body);
      } catch (error) {
        state.badSignatures++;
        res.writeHead(400).end(String((error as Error).message));
        return;
      }
      for (const id of ids) state.taken.set(id, (state.taken.get(id) ?? 0) + 1);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const down = (): Promise<void> => {
    if (!server.listening) return Promise.resolve();
    server.closeAllConnections();
    return new Promise((r) => server.close(() => r()));
  };
  return {
    url: `http://127.0.0.1:${port}/events`,
    state,
    /** Stop listening: connections are refused until `up`. */
    down,
    up: () => new Promise<void>((r) => server.listen(port, "127.0.0.1", r)),
    close: down,
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/**
 * A TCP proxy to a loopback port. While `hold` is on, what the receiver sends back (answers,
 * acknowledgements, its closing of the connection) is dropped, and the client's
 * bytes still reach the receiver: the receiver has the batch, the sender does not know it.
 */
export async function tcpProxy(targetPort: number) {
  const state = { hold: false, connections: 0 };
  const sockets = new Set<net.Socket>();
  // Half-open: the client's end of writing must not close the way back (it would look to a
  // syslog sender like the receiver's acknowledging close).
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    state.connections++;
    const upstream = net.connect(targetPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    client.on("data", (d) => upstream.write(d));
    client.on("end", () => upstream.end());
    upstream.on("data", (d) => {
      if (!state.hold) client.write(d);
    });
    upstream.on("end", () => {
      if (!state.hold) client.end();
    });
    client.on("error", () => upstream.destroy());
    // While held, not even the receiver's reset or close reaches the client.
    upstream.on("error", () => {
      if (!state.hold) client.destroy();
    });
    upstream.on("close", () => {
      if (!state.hold) client.destroy();
    });
    client.on("close", () => {
      sockets.delete(client);
      sockets.delete(upstream);
      upstream.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    state,
    close(): Promise<void> {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
