import net, { type AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { createDb } from "../src/client";
import { createTestDatabase } from "../src/testing";

/**
 * A TCP proxy to Postgres that cuts the first connection the moment the driver asks for the
 * array types (the first thing postgres.js does on a new connection), as a database restart
 * or a network cut at that instant does. Later connections pass through.
 */
async function cuttingProxy(target: URL) {
  let cut = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port), target.hostname);
    const first = cut === 0;
    client.on("data", (d) => {
      if (first && cut === 0 && d.includes("typarray")) {
        cut++;
        // A reset, as a dying server or a cut network gives (a clean close goes another way).
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      upstream.write(d);
    });
    upstream.on("data", (d) => client.write(d));
    for (const s of [client, upstream]) s.on("error", () => {});
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const via = new URL(target);
  via.port = String((server.address() as AddressInfo).port);
  return { url: via.toString(), cuts: () => cut, close: () => server.close() };
}

describe("the database connection lost while it starts", () => {
  it("fails or retries the query without an unhandled rejection (which would kill the process)", async () => {
    const t = await createTestDatabase();
    const proxy = await cuttingProxy(new URL(t.url));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    const { sql } = createDb(proxy.url, { max: 1 });
    try {
      // The first query's connection is cut: it fails (or is retried on a new connection).
      await sql`select 1 as one`.catch(() => undefined);
      expect(proxy.cuts()).toBe(1);
      // The next one gets a fresh connection and works.
      const [row] = await sql<{ one: number }[]>`select 1 as one`;
      expect(row?.one).toBe(1);
      // An unhandled rejection surfaces on a later tick.
      await new Promise((r) => setTimeout(r, 200));
      expect(unhandled.map(String)).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
      await sql.end({ timeout: 1 });
      proxy.close();
      await t.drop();
    }
  });
});
