import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { berthErrorCode, createBerthClient, trpcUrl } from "../src/index";

describe("client", () => {
  it("normalises the URL to the /trpc endpoint", () => {
    expect(trpcUrl("http://h:5000")).toBe("http://h:5000/trpc");
    expect(trpcUrl("http://h:5000/")).toBe("http://h:5000/trpc");
    expect(trpcUrl("http://h:5000/trpc/")).toBe("http://h:5000/trpc");
  });

  it("sends the API key as a bearer token and the request id per call", async () => {
    const seen: Record<string, string | string[] | undefined>[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(401, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          error: {
            message: "the API key is not valid",
            code: -32001,
            data: { code: "UNAUTHORIZED", httpStatus: 401, berthCode: null },
          },
        }),
      );
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    try {
      const client = createBerthClient({ url: `http://127.0.0.1:${port}`, apiKey: "k-123" });
      const error = await client.namespace.list
        .query(undefined, { context: { requestId: "rid-1" } })
        .catch((e: unknown) => e);
      expect(berthErrorCode(error)).toBe("UNAUTHORIZED");
      expect(seen[0]?.authorization).toBe("Bearer k-123");
      expect(seen[0]?.["x-request-id"]).toBe("rid-1");
    } finally {
      server.close();
    }
  });
});
