import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import { type ServiceProcess, startServerProcess } from "@berth/harness";
import { type CreatedAccount, createAccount } from "@berth/registry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config";
import { resolveTokenSecret, TOKEN_SECRET_FILE } from "../src/token-secret";

// Bearer tokens signed by one server process are good at every process of the region that
// shares BERTH_TOKEN_SECRET, and survive a restart when the key lives in the data dir.

const dir = () => mkdtempSync(join(tmpdir(), "berth-secret-"));

describe("resolveTokenSecret", () => {
  it("creates a key in the data dir once, mode 0600, and reads it back", () => {
    const d = dir();
    const first = resolveTokenSecret({ dataDir: d });
    expect(first.source).toBe("created");
    expect(first.secret.length).toBeGreaterThanOrEqual(32);
    expect(statSync(join(d, TOKEN_SECRET_FILE)).mode & 0o777).toBe(0o600);
    expect(resolveTokenSecret({ dataDir: d })).toEqual({ secret: first.secret, source: "file" });
  });

  it("prefers the configured key and never writes it to disk", () => {
    const d = dir();
    const configured = "x".repeat(40);
    expect(resolveTokenSecret({ configured, dataDir: d })).toEqual({
      secret: configured,
      source: "environment",
    });
    expect(() => statSync(join(d, TOKEN_SECRET_FILE))).toThrow();
  });

  it("tightens a key file others can read, replaces an empty one, refuses a short one", () => {
    const d = dir();
    const path = join(d, TOKEN_SECRET_FILE);
    writeFileSync(path, `${"k".repeat(43)}\n`, { mode: 0o644 });
    expect(resolveTokenSecret({ dataDir: d }).secret).toBe("k".repeat(43));
    expect(statSync(path).mode & 0o777).toBe(0o600);
    writeFileSync(path, "");
    expect(resolveTokenSecret({ dataDir: d }).source).toBe("created");
    expect(readFileSync(path, "utf8").trim().length).toBeGreaterThanOrEqual(32);
    writeFileSync(path, "short\n");
    expect(() => resolveTokenSecret({ dataDir: d })).toThrow(/shorter than 32/);
  });

  it("BERTH_TOKEN_SECRET shorter than 32 characters stops the configuration", () => {
    expect(() => loadConfig({ BERTH_TOKEN_SECRET: "too-short" })).toThrow(ConfigError);
    expect(() => loadConfig({ BERTH_TOKEN_SECRET: "too-short" })).toThrow(/BERTH_TOKEN_SECRET/);
    expect(loadConfig({ BERTH_TOKEN_SECRET: "s".repeat(32) }).tokenSecret).toBe("s".repeat(32));
  });
});

describe("server processes", () => {
  let t: TestDatabase;
  let alice: CreatedAccount;
  const running: ServiceProcess[] = [];
  beforeAll(async () => {
    t = await createTestDatabase();
    alice = await createAccount(t.db, { name: "alice" });
  });
  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop()));
    await t?.drop();
  });

  const start = async (dataDir: string, secret?: string) => {
    const p = await startServerProcess({
      databaseUrl: t.url,
      dataDir,
      logLevel: "warn",
      ...(secret ? { env: { BERTH_TOKEN_SECRET: secret } } : {}),
    });
    running.push(p);
    return p;
  };
  const tokenFrom = async (p: ServiceProcess) => {
    const basic = Buffer.from(`iamapikey:${alice.apiKey}`).toString("base64");
    const res = await fetch(`${p.url}/token?service=berth-registry-us-south`, {
      headers: { authorization: `Basic ${basic}` },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { token: string }).token;
  };
  const statusWith = async (p: ServiceProcess, token: string) =>
    (await fetch(`${p.url}/v2/`, { headers: { authorization: `Bearer ${token}` } })).status;

  it("share tokens through the data dir's key, across a restart, and through BERTH_TOKEN_SECRET", async () => {
    const shared = dir();
    const secret = `shared-${"s".repeat(40)}`;
    const [a, b, c, d] = await Promise.all([
      start(shared),
      start(shared),
      start(dir(), secret),
      start(dir(), secret),
    ]);
    const fromA = await tokenFrom(a!);
    // b read the key a created (or the other way round): a restart reads it the same way.
    expect(await statusWith(b!, fromA)).toBe(200);
    expect(statSync(join(shared, TOKEN_SECRET_FILE)).mode & 0o777).toBe(0o600);
    const fromC = await tokenFrom(c!);
    expect(await statusWith(d!, fromC)).toBe(200);
    // Different keys: neither accepts the other's tokens.
    expect(await statusWith(c!, fromA)).toBe(401);
    expect(await statusWith(a!, fromC)).toBe(401);
    // The restart: a stops, a new process on the same data dir accepts a's token.
    await a!.stop();
    const again = await start(shared);
    expect(await statusWith(again, fromA)).toBe(200);
    // The key is never logged.
    const keyFile = readFileSync(join(shared, TOKEN_SECRET_FILE), "utf8").trim();
    for (const p of running) {
      const out = p.output.join("\n");
      expect(out).not.toContain(keyFile);
      expect(out).not.toContain(secret);
    }
    // Five server processes start here; on a loaded 2-core machine each start can take tens
    // of seconds.
  }, 300_000);
});
