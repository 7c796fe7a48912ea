import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/** Ports below this are left alone: well-known services and what people pick by hand. */
const LOWEST = 10_000;

/**
 * The kernel's range for ports it hands out by itself (bind to 0, an outgoing connection).
 * Linux's default when the setting cannot be read.
 */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    if (Number.isInteger(low) && Number.isInteger(high)) return [low!, high!];
  } catch {
    // not Linux, or no /proc
  }
  return [32_768, 60_999];
}

/** Whether a service could listen on `port` of 127.0.0.1 now. */
export async function portIsFree(port: number): Promise<boolean> {
  return (await listenable(port)) !== undefined;
}

/** The port a listen on `port` got (the kernel's choice for 0), or undefined when refused. */
async function listenable(port: number): Promise<number | undefined> {
  return await new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", () => resolve(undefined));
    srv.listen(port, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(addr && typeof addr === "object" ? addr.port : undefined));
    });
  });
}

/**
 * A free loopback port for a service started next. Chosen outside the kernel's ephemeral
 * range: a port the kernel handed out (bind to 0) is free again once checked, and any
 * outgoing connection on the machine may take it before the service binds it (seen: a busy
 * test run's EADDRINUSE). Outside that range only an explicit bind can take it. Falls back
 * to the kernel's choice when no such port is free.
 */
export async function freePort(): Promise<number> {
  const [low, high] = ephemeralRange();
  const spans = [
    [LOWEST, low - 1],
    [high + 1, 65_535],
  ].filter(([a, b]) => b! >= a!) as [number, number][];
  const size = spans.reduce((n, [a, b]) => n + b - a + 1, 0);
  for (let i = 0; i < 50 && size > 0; i++) {
    let k = Math.floor(Math.random() * size);
    for (const [a, b] of spans) {
      if (k <= b - a) {
        const port = await listenable(a + k);
        if (port !== undefined) return port;
        break;
      }
      k -= b - a + 1;
    }
  }
  const port = await listenable(0);
  if (port === undefined) throw new Error("no free loopback port");
  return port;
}
