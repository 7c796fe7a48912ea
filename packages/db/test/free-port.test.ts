import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { describe, expect, it } from "vitest";
import { freePort } from "../src/free-port";

const [low, high] = readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8")
  .trim()
  .split(/\s+/)
  .map(Number) as [number, number];

describe("freePort", () => {
  it("gives a port outside the kernel's ephemeral range, so no outgoing connection takes it before the service binds it", async () => {
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      expect(
        port >= low && port <= high,
        `port ${port} in the ephemeral range ${low}-${high}`,
      ).toBe(false);
      expect(port, `port ${port}`).toBeGreaterThanOrEqual(10_000);
      // Free: a service can listen on it.
      await new Promise<void>((resolve, reject) => {
        const srv = createServer();
        srv.once("error", reject);
        srv.listen(port, "127.0.0.1", () => srv.close(() => resolve()));
      });
    }
  });
});
