import { eventSchema } from "@berth/core";
import { outbox } from "@berth/db";
import { basic } from "@berth/harness";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { AuthFailureLimiter, parseTrustedProxies, sourceKey } from "../src/auth-limit";
import { loadConfig } from "../src/config";
import { forFile, startTestServer } from "./helpers";
import { getFrom, postTrpc } from "./raw-requests";

// Whose failures a failed authentication counts against, and that an attacker can neither
// spoof its way out of the limit (X-Forwarded-For from a peer that is not a trusted proxy)
// nor flush its own count out of the bounded table by failing from many addresses.

// The server of the last block: LIMIT failures in ten minutes, at most 20 sources remembered.
const LIMIT = 3;
const env = await forFile(
  startTestServer({
    authLimit: { maxFailures: LIMIT, windowMs: 600_000, maxSources: 20 },
    // The proxy is 127.0.0.1 (and a second hop in 10/8); other loopback peers are clients
    // that reach the server directly.
    trustedProxies: ["127.0.0.1", "10.0.0.0/8"],
  }),
);
const { t, alice } = env;
const url = env.url();

describe("AuthFailureLimiter sources", () => {
  it("flooding a full table does not evict a blocked source nor give new ones an allowance", () => {
    let now = 1_000_000;
    const limiter = new AuthFailureLimiter(
      { maxFailures: 3, windowMs: 60_000, maxSources: 50 },
      () => now,
    );
    for (let i = 0; i < 3; i++) limiter.failed("198.51.100.66");
    expect(limiter.blockedFor("198.51.100.66")).toBeGreaterThan(0);
    for (let i = 0; i < 10_000; i++) {
      now += 1;
      limiter.failed(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
    }
    expect(limiter.size).toBe(50);
    expect(limiter.blockedFor("198.51.100.66")).toBeGreaterThan(0);
    // The addresses that found the table full share one bucket, which is full too.
    expect(limiter.blockedFor("10.0.39.15")).toBeGreaterThan(0);
    expect(limiter.blockedFor("192.0.2.1")).toBeGreaterThan(0);
    // Once the window has passed, everything is forgotten, and new sources get entries.
    now += 60_001;
    expect(limiter.blockedFor("198.51.100.66")).toBe(0);
    expect(limiter.blockedFor("192.0.2.1")).toBe(0);
    limiter.failed("192.0.2.1");
    expect(limiter.size).toBe(1);
  });

  it("counts an IPv6 source as its /64, and an IPv4-mapped one as the IPv4 address", () => {
    expect(sourceKey("2001:db8:1:2:3:4:5:6")).toBe("2001:db8:1:2::/64");
    expect(sourceKey("::ffff:192.0.2.7")).toBe("192.0.2.7");
    expect(sourceKey("192.0.2.7")).toBe("192.0.2.7");
    const limiter = new AuthFailureLimiter({ maxFailures: 2, windowMs: 60_000 });
    limiter.failed("2001:db8::1");
    limiter.failed("2001:db8::ffff:2");
    expect(limiter.blockedFor("2001:db8::9")).toBeGreaterThan(0);
    expect(limiter.blockedFor("2001:db8:0:1::1")).toBe(0);
  });

  it("reads BERTH_TRUSTED_PROXIES, naming a bad entry", () => {
    expect(loadConfig({}).trustedProxies).toBeUndefined();
    expect(
      loadConfig({ BERTH_TRUSTED_PROXIES: " 10.0.0.5, 10.1.0.0/16 ,fd00::/8,::1" }).trustedProxies,
    ).toEqual(["10.0.0.5", "10.1.0.0/16", "fd00::/8", "::1"]);
    for (const bad of ["10.0.0.0/33", "proxy.local", "10.0.0.1/8/1", "10.0.0.1/x", "*"]) {
      expect(() => parseTrustedProxies(bad), bad).toThrow(/not an IP address or a CIDR range/);
      expect(() => loadConfig({ BERTH_TRUSTED_PROXIES: bad }), bad).toThrow(
        /BERTH_TRUSTED_PROXIES/,
      );
    }
  });
});

describe("the server", () => {
  const good = () => basic("iamapikey", alice.apiKey);
  const wrong = (i: number) => basic("iamapikey", `berth_ak_guess-${i}-00000000000000000000`);

  /** GET `path` from the loopback address `from`, with headers; the status. */
  const get = (path: string, from: string, headers: Record<string, string>) =>
    getFrom(url, path, from, headers);

  it("a client that is not a trusted proxy cannot escape its limit with X-Forwarded-For", async () => {
    const from = "127.0.0.3";
    for (let i = 0; i < LIMIT; i++) {
      const spoofed = { authorization: wrong(i), "x-forwarded-for": `203.0.113.${100 + i}` };
      expect(await get("/v2/", from, spoofed)).toBe(401);
    }
    for (const xff of ["203.0.113.200", "127.0.0.1", "10.9.9.9, 203.0.113.201", ""]) {
      const headers = { authorization: good(), "x-forwarded-for": xff };
      expect(await get("/v2/", from, headers), `X-Forwarded-For: ${xff}`).toBe(429);
    }
    expect(await get("/v2/", "127.0.0.4", { authorization: good() })).toBe(200);
  });

  it("behind a trusted proxy, the client is the right-most address that is not a proxy", async () => {
    const proxy = "127.0.0.1";
    for (let i = 0; i < LIMIT; i++) {
      const headers = { authorization: wrong(i), "x-forwarded-for": "192.0.2.7" };
      expect(await get("/v2/", proxy, headers)).toBe(401);
    }
    const as = (xff: string) =>
      get("/v2/", proxy, { authorization: good(), "x-forwarded-for": xff });
    expect(await as("192.0.2.7")).toBe(429);
    // What the client prepends is not believed: the proxy appended the real address.
    expect(await as("192.0.2.99, 192.0.2.7")).toBe(429);
    // Through a second trusted hop (10/8) the client is still the one before it.
    expect(await as("192.0.2.7, 10.1.2.3")).toBe(429);
    // Other clients of the same proxy are not affected, nor is the proxy's own address.
    expect(await as("192.0.2.8")).toBe(200);
    expect(await as("192.0.2.7, 192.0.2.8")).toBe(200);
    expect(await get("/v2/", proxy, { authorization: good() })).toBe(200);
    // Events name the client too.
    const requestId = `xff-${Date.now().toString(36)}`;
    const res = await postTrpc(
      url,
      alice.apiKey,
      "namespace.create",
      { name: "alicexff" },
      { "x-request-id": requestId, "x-forwarded-for": "192.0.2.8" },
    );
    expect(res.status).toBe(200);
    const [row] = await t.db
      .select({ payload: outbox.payload })
      .from(outbox)
      .where(sql`${outbox.payload}->>'correlationId' = ${requestId}`);
    expect(eventSchema.parse(row!.payload).initiator.host.address).toBe("192.0.2.8");
  });

  it("failing from many addresses does not reset an attacker's count", async () => {
    const attacker = "127.0.0.5";
    for (let i = 0; i < LIMIT; i++) {
      expect(await get("/v2/", attacker, { authorization: wrong(i) })).toBe(401);
    }
    expect(await get("/v2/", attacker, { authorization: good() })).toBe(429);
    // Three times the table's size of other peers, each failing once.
    for (let i = 1; i <= 60; i++) {
      const status = await get("/v2/", `127.0.1.${i}`, { authorization: wrong(i) });
      expect([401, 429], `127.0.1.${i}`).toContain(status);
    }
    expect(await get("/v2/", attacker, { authorization: good() })).toBe(429);
    expect(await get("/token", attacker, { authorization: good() })).toBe(429);
  });
});
