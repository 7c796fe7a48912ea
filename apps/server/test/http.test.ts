import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { KEY_TRUSTED_MS } from "@berth/api";
import { createBerthClient } from "@berth/client";
import { apiKeys } from "@berth/db";
import { createTestDatabase } from "@berth/db/testing";
import { createApiKey, hashSecret } from "@berth/registry";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig, loadDotEnv, parseRegions } from "../src/config";
import { crn } from "./expect-events";
import { errorInfo, forFile, rejects, rid, serverOn, startTestServer } from "./helpers";

const env = await forFile(
  startTestServer({
    regions: [
      { region: "us-south", port: 0 },
      { region: "ap-north", port: 0 },
    ],
  }),
);

describe("health, readiness and metrics", () => {
  it("answers /healthz and /readyz on every region's listener", async () => {
    for (const region of ["us-south", "ap-north"] as const) {
      const health = await fetch(`${env.url(region)}/healthz`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: "ok", region });
      const ready = await fetch(`${env.url(region)}/readyz`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: "ready", region });
    }
  });

  it("/readyz answers 503 when the database is unreachable", async () => {
    const t = await createTestDatabase();
    const server = await serverOn(t.db);
    try {
      expect((await fetch(`${server.urls["us-south"]}/readyz`)).status).toBe(200);
      await t.drop();
      const res = await fetch(`${server.urls["us-south"]}/readyz`);
      expect(res.status).toBe(503);
      expect((await fetch(`${server.urls["us-south"]}/healthz`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it("/metrics counts requests by route and status, and unauthenticated requests", async () => {
    await fetch(`${env.url()}/healthz`);
    await fetch(`${env.url()}/no/such/route`);
    await rejects(env.client({}).namespace.list.query());
    await rejects(
      env.client({ apiKey: "berth_ak_wrong-key-for-metrics-0000" }).namespace.list.query(),
    );
    const res = await fetch(`${env.url()}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(
      /berth_http_requests_total\{region="us-south",method="GET",route="\/healthz",status="200"\} [1-9]/,
    );
    expect(text).toMatch(
      /berth_http_requests_total\{region="us-south",method="GET",route="unmatched",status="404"\} 1/,
    );
    expect(text).toMatch(
      /berth_http_requests_total\{[^}]*route="\/trpc\/:path",status="401"\} [1-9]/,
    );
    expect(text).toMatch(/berth_http_request_duration_seconds_bucket\{/);
    expect(text).toMatch(
      /berth_unauthenticated_requests_total\{region="us-south",reason="missing"\} 1/,
    );
    expect(text).toMatch(
      /berth_unauthenticated_requests_total\{region="us-south",reason="invalid"\} 1/,
    );
  });
});

describe("request ids", () => {
  it("honours a sane incoming x-request-id and returns it", async () => {
    const res = await fetch(`${env.url()}/healthz`, { headers: { "x-request-id": "abc-123.def" } });
    expect(res.headers.get("x-request-id")).toBe("abc-123.def");
  });

  it("generates one when absent or unusable", async () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const none = await fetch(`${env.url()}/healthz`);
    expect(none.headers.get("x-request-id")).toMatch(uuid);
    for (const bad of ["has spaces in it", "x".repeat(200), 'quote"d']) {
      const res = await fetch(`${env.url()}/healthz`, { headers: { "x-request-id": bad } });
      expect(res.headers.get("x-request-id")).toMatch(uuid);
    }
  });

  it("a generated id is the events' correlationId too", async () => {
    const res = await fetch(`${env.url()}/trpc/namespace.list`, {
      headers: { authorization: `Bearer ${env.alice.apiKey}` },
    });
    const id = res.headers.get("x-request-id")!;
    const events = await env.events(id);
    expect(events.map((e) => e.event.action)).toEqual(["container-registry.namespace.list"]);
  });
});

describe("regions", () => {
  it("each listener serves its own region: events, CRNs and namespaces", async () => {
    const north = env.client(env.alice, "ap-north");
    expect(await north.region.query()).toEqual({
      region: "ap-north",
      host: "jp.icr.io",
      location: "jp-tok",
    });
    expect(await env.client(env.alice).region.query()).toMatchObject({ region: "us-south" });
    const id = rid();
    await north.namespace.create.mutate({ name: "tokyo-birds" }, { context: { requestId: id } });
    const [found] = await env.events(id);
    expect(found!.region).toBe("ap-north");
    expect(found!.event.target.id).toBe(
      crn("ap-north", env.alice.account.id, "namespace", "tokyo-birds"),
    );
    expect(found!.event.target.id).toContain(":jp-tok:");
    expect((await north.namespace.list.query()).items.map((n) => n.name)).toEqual(["tokyo-birds"]);
    expect(
      (await env.client(env.alice).namespace.list.query()).items.map((n) => n.name),
    ).not.toContain("tokyo-birds");
    // Unique per region: the same name is free in us-south, even for another account.
    await env.client(env.bob).namespace.create.mutate({ name: "tokyo-birds" });
    const taken = await rejects(
      env.client(env.bob, "ap-north").namespace.create.mutate({ name: "tokyo-birds" }),
    );
    expect(errorInfo(taken).code).toBe("CONFLICT");
  });
});

describe("client", () => {
  it("batches calls when asked, and accepts the /trpc URL", async () => {
    const client = createBerthClient({
      url: `${env.url()}/trpc/`,
      apiKey: env.alice.apiKey,
      batch: true,
    });
    const [who, plan] = await Promise.all([client.whoami.query(), client.plan.get.query()]);
    expect(who.account.id).toBe(env.alice.account.id);
    expect(who.credentialType).toBe("apikey");
    expect(plan.plan).toBe("lite");
  });
});

describe("API keys", () => {
  it("a deleted key is refused once the listener's trust in its last check has run out", async () => {
    const key = await createApiKey(env.t.db, {
      accountId: env.alice.account.id,
      userId: env.alice.user.id,
    });
    const whoami = async () =>
      (await fetch(`${env.url()}/trpc/whoami`, { headers: { authorization: `Bearer ${key}` } }))
        .status;
    expect(await whoami()).toBe(200);
    await env.t.db.delete(apiKeys).where(eq(apiKeys.keyHash, hashSecret(key)));
    // Bounded polling: the refusal must come, on a loaded machine perhaps not at once.
    const deadline = Date.now() + KEY_TRUSTED_MS + 30_000;
    let status = await whoami();
    while (status !== 401 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      status = await whoami();
    }
    expect(status, "the deleted key is still accepted").toBe(401);
  });
});

describe("configuration", () => {
  it("defaults to us-south on BERTH_PORT and 127.0.0.1", () => {
    expect(loadConfig({})).toEqual({
      dataDir: ".berth",
      host: "127.0.0.1",
      regions: [{ region: "us-south", port: 5000 }],
      logLevel: "info",
      authLimit: { maxFailures: 30, windowMs: 60_000 },
      timeouts: { idleMs: 60_000, minBodyBytesPerSecond: 1024, bodyWindowMs: 30_000 },
      // Blob GETs redirect where the storage can presign (S3); the default store cannot.
      blobRedirects: true,
      trashDays: 30,
      // The embedded database shares this machine's cores (db-connections.test.ts).
      dbConnections: Math.max(4, 2 * availableParallelism()),
    });
    expect(loadConfig({ BERTH_PORT: "6000", BERTH_HOST: "", DATABASE_URL: "" }).regions).toEqual([
      { region: "us-south", port: 6000 },
    ]);
  });

  it("reads several regions with their ports", () => {
    expect(loadConfig({ BERTH_REGIONS: "us-south=5000, ap-north=5001" }).regions).toEqual([
      { region: "us-south", port: 5000 },
      { region: "ap-north", port: 5001 },
    ]);
    expect(parseRegions("eu-central", 7000)).toEqual([{ region: "eu-central", port: 7000 }]);
  });

  it("names the variable of a bad value", () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ BERTH_PORT: "http" }, /BERTH_PORT/],
      [{ BERTH_PORT: "70000" }, /BERTH_PORT/],
      [{ BERTH_REGIONS: "mars=5000" }, /BERTH_REGIONS: "mars" is not a region/],
      [{ BERTH_REGIONS: "us-south=5000,ap-north=5000" }, /BERTH_REGIONS: port 5000 is used twice/],
      [{ BERTH_REGIONS: "us-south=abc" }, /BERTH_REGIONS/],
      [{ DATABASE_URL: "mysql://x" }, /DATABASE_URL/],
      [{ BERTH_LOG_LEVEL: "loud" }, /BERTH_LOG_LEVEL/],
    ];
    for (const [env, message] of bad) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
      expect(() => loadConfig(env)).toThrow(message);
    }
  });

  it("reads an optional .env from the workspace root, the environment winning", () => {
    const rootDir = mkdtempSync(join(tmpdir(), "berth-env-"));
    const pkg = join(rootDir, "apps", "server");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(rootDir, "pnpm-workspace.yaml"), "packages: []\n");
    writeFileSync(join(rootDir, ".env"), "BERTH_TEST_FROM_FILE=file\nBERTH_TEST_BOTH=file\n");
    process.env.BERTH_TEST_BOTH = "env";
    try {
      expect(loadDotEnv(pkg)).toBe(join(rootDir, ".env"));
      expect(process.env.BERTH_TEST_FROM_FILE).toBe("file");
      expect(process.env.BERTH_TEST_BOTH).toBe("env");
      expect(loadDotEnv(mkdtempSync(join(tmpdir(), "berth-noenv-")))).toBeUndefined();
    } finally {
      delete process.env.BERTH_TEST_FROM_FILE;
      delete process.env.BERTH_TEST_BOTH;
    }
  });
});
