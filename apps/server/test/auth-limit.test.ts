import { outbox } from "@berth/db";
import { basic } from "@berth/harness";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { AuthFailureLimiter } from "../src/auth-limit";
import { loadConfig } from "../src/config";
import { forFile, startTestServer } from "./helpers";
import { getFrom } from "./raw-requests";

type OciErrors = { errors: { code: string; message: string }[] };

// Failed authentications are limited per source address: past the limit, every request
// that carries a credential is refused with 429 and Retry-After before the credential is
// looked at, on /v2, /token, /trpc and /build/context alike.

// The server of the last block: LIMIT failures a minute.
const LIMIT = 5;
const env = await forFile(startTestServer({ authLimit: { maxFailures: LIMIT, windowMs: 60_000 } }));
const { t, alice } = env;
const url = env.url();

describe("AuthFailureLimiter", () => {
  it("blocks a source after maxFailures within the window, until the oldest ages out", () => {
    let now = 1_000_000;
    const limiter = new AuthFailureLimiter({ maxFailures: 3, windowMs: 10_000 }, () => now);
    for (let i = 0; i < 3; i++) {
      expect(limiter.blockedFor("a")).toBe(0);
      limiter.failed("a");
      now += 1000;
    }
    // Failures at 0, 1 s and 2 s; now 3 s: blocked until the first is 10 s old.
    expect(limiter.blockedFor("a")).toBe(7000);
    expect(limiter.blockedFor("b")).toBe(0);
    now += 7000;
    expect(limiter.blockedFor("a")).toBe(0);
    now += 10_000;
    expect(limiter.blockedFor("a")).toBe(0);
    expect(limiter.size).toBe(0);
  });

  it("remembers a bounded number of sources and can be switched off", () => {
    const limiter = new AuthFailureLimiter({ maxFailures: 1, windowMs: 60_000, maxSources: 100 });
    for (let i = 0; i < 1000; i++) limiter.failed(`10.0.${i >> 8}.${i & 255}`);
    expect(limiter.size).toBe(100);
    // The first hundred keep their entries; the rest share the (full) overflow bucket.
    expect(limiter.blockedFor("10.0.3.231")).toBeGreaterThan(0);
    expect(limiter.blockedFor("10.0.0.0")).toBeGreaterThan(0);
    const off = new AuthFailureLimiter({ maxFailures: 0, windowMs: 60_000 });
    for (let i = 0; i < 100; i++) off.failed("a");
    expect(off.blockedFor("a")).toBe(0);
  });
});

describe("configuration", () => {
  it("reads BERTH_AUTH_FAILURE_LIMIT and BERTH_AUTH_FAILURE_WINDOW_SECONDS, naming a bad one", () => {
    expect(
      loadConfig({ BERTH_AUTH_FAILURE_LIMIT: "0", BERTH_AUTH_FAILURE_WINDOW_SECONDS: "300" })
        .authLimit,
    ).toEqual({ maxFailures: 0, windowMs: 300_000 });
    expect(() => loadConfig({ BERTH_AUTH_FAILURE_LIMIT: "-1" })).toThrow(
      /BERTH_AUTH_FAILURE_LIMIT/,
    );
    expect(() => loadConfig({ BERTH_AUTH_FAILURE_WINDOW_SECONDS: "0" })).toThrow(
      /BERTH_AUTH_FAILURE_WINDOW_SECONDS/,
    );
  });
});

describe("the server", () => {
  /** GET from another loopback source address (127.0.0.2). */
  const fromElsewhere = (path: string, authorization: string) =>
    getFrom(url, path, "127.0.0.2", { authorization });

  it("refuses every credential of a source past its failures, on every surface, with Retry-After", async () => {
    const events = async () =>
      (await t.db.select({ n: sql<number>`count(*)::int` }).from(outbox))[0]!.n;
    const before = await events();
    for (let i = 0; i < LIMIT; i++) {
      const res = await fetch(`${url}/v2/`, {
        headers: { authorization: basic("iamapikey", `berth_ak_guess-${i}-0000000000000`) },
      });
      expect(res.status).toBe(401);
    }
    // The right key now gets the same refusal as a wrong one: nothing is learned.
    const good = basic("iamapikey", alice.apiKey);
    const v2 = await fetch(`${url}/v2/`, { headers: { authorization: good } });
    expect(v2.status).toBe(429);
    expect(Number(v2.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(((await v2.json()) as OciErrors).errors[0]).toMatchObject({
      code: "TOOMANYREQUESTS",
      message: expect.stringMatching(/too many failed authentication attempts/),
    });
    const token = await fetch(`${url}/token`, { headers: { authorization: good } });
    expect(token.status).toBe(429);
    expect(((await token.json()) as OciErrors).errors[0]!.code).toBe("TOOMANYREQUESTS");
    const form = await fetch(`${url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `grant_type=password&username=iamapikey&password=${alice.apiKey}`,
    });
    expect(form.status).toBe(429);
    const trpc = await fetch(`${url}/trpc/namespace.list`, {
      headers: { authorization: `Bearer ${alice.apiKey}` },
    });
    expect(trpc.status).toBe(429);
    expect(trpc.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(((await trpc.json()) as { error: { data: { code: string } } }).error.data.code).toBe(
      "TOO_MANY_REQUESTS",
    );
    const build = await fetch(`${url}/build/context`, {
      method: "POST",
      headers: { authorization: `Bearer ${alice.apiKey}` },
      body: Buffer.alloc(10),
    });
    expect(build.status).toBe(429);
    // Without a credential nothing is limited: a client's first, anonymous request works.
    expect((await fetch(`${url}/v2/`)).status).toBe(401);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // Another source is not affected.
    expect(await fromElsewhere("/v2/", good)).toBe(200);
    // Counted per surface; nothing audited (no account is identified).
    const metrics = await (await fetch(`${url}/metrics`)).text();
    for (const surface of ["v2", "token", "trpc", "build-context"]) {
      expect(metrics).toMatch(
        new RegExp(
          `berth_auth_rate_limited_total\\{region="us-south",surface="${surface}"\\} [1-9]`,
        ),
      );
    }
    expect(await events()).toBe(before);
  });
});
