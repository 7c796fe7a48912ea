/**
 * A TCP proxy in front of Postgres that can lose a connection at the worst moment: right
 * after the server has committed a transaction, before the client hears about it (the
 * CommandComplete "COMMIT" is swallowed and both sides are cut). It can also refuse every
 * connection for a while, as a database that is gone.
 */
import net from "node:net";

export interface PgProxy {
  /** The Postgres URL through the proxy. */
  url: string;
  /**
   * Cut the next connection that reports a COMMIT, before the client reads it; with
   * `thenDown`, the proxy also goes down at that moment (as a database that died committing).
   */
  dropNextCommit(opts?: { thenDown?: boolean }): void;
  /**
   * Cut the connection that next sends a message holding `marker` (a request id among a
   * statement's parameters, say) when its answer comes, and drop that answer.
   */
  dropAnswerTo(marker: string, opts?: { thenDown?: boolean }): void;
  /** Whether a COMMIT was swallowed since dropNextCommit(). */
  dropped(): boolean;
  /** Cut every open connection and refuse new ones until down(false). */
  down(on: boolean): Promise<void>;
  close(): Promise<void>;
}

const COMMIT_TAG = Buffer.from("COMMIT\0", "latin1");

export async function startPgProxy(targetUrl: string): Promise<PgProxy> {
  const target = new URL(targetUrl);
  let armed = false;
  let downAfter = false;
  let swallowed = false;
  let isDown = false;
  let marker: Buffer | undefined;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (isDown) {
      client.destroy();
      return;
    }
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client);
    sockets.add(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    // The end of what the client sent last, so that a marker split between chunks is found.
    let tail = Buffer.alloc(0);
    let doomed = false;
    client.on("data", (chunk: Buffer) => {
      if (marker) {
        const seen = Buffer.concat([tail, chunk]);
        if (seen.includes(marker)) {
          marker = undefined;
          doomed = true;
        } else tail = seen.subarray(-256);
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (doomed || (armed && chunk.includes(COMMIT_TAG))) {
        doomed = false;
        armed = false;
        swallowed = true;
        cut();
        if (downAfter) goDown();
        return;
      }
      client.write(chunk);
    });
    client.on("error", cut);
    upstream.on("error", cut);
    client.on("close", cut);
    upstream.on("close", cut);
  });
  // Down: the port is closed, so connections are refused, as to a stopped server.
  function goDown() {
    if (isDown) return;
    isDown = true;
    for (const s of sockets) s.destroy();
    sockets.clear();
    server.close();
  }
  function goUp(): Promise<void> {
    if (!isDown) return Promise.resolve();
    isDown = false;
    return new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  }
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  const url = new URL(targetUrl);
  url.hostname = "127.0.0.1";
  url.port = String(port);
  return {
    url: url.toString(),
    dropNextCommit(opts = {}) {
      armed = true;
      downAfter = opts.thenDown ?? false;
      swallowed = false;
    },
    dropAnswerTo(text, opts = {}) {
      marker = Buffer.from(text, "utf8");
      downAfter = opts.thenDown ?? false;
      swallowed = false;
    },
    dropped: () => swallowed,
    async down(on) {
      if (on) goDown();
      else await goUp();
    },
    async close() {
      for (const s of sockets) s.destroy();
      if (!isDown) await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
