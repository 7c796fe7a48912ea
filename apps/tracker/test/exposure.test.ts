import { spawn } from "node:child_process";
import http from "node:http";
import net, { type AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import { ConfigError } from "@berth/service";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningTracker, startTracker } from "../src/tracker";
import { lineOf, makeEvent } from "./events";

// Issue 12: what someone who reaches the tracker's port without its keys can make it do or say.

let t: TestDatabase;
let tracker: RunningTracker;
const logged: string[] = [];

beforeAll(async () => {
  t = await createTestDatabase();
  tracker = await startTracker({
    databaseUrl: t.url,
    ingestionKeys: "us-south=key-us",
    queryKey: "query-key-123",
    logger: pino({ level: "error" }, { write: (line: string) => logged.push(line) }),
  });
});
afterAll(async () => {
  await tracker?.stop();
  await t?.drop();
});

const basic = (user: string) => `Basic ${Buffer.from(`${user}:`).toString("base64")}`;

/**
 * Announce a 10 MB body, send its first 64 KiB, and wait (bounded) for an answer without
 * sending the rest. A tracker that reads the body before checking the key cannot answer.
 */
function partialUpload(region: string, authorization?: string) {
  const total = 10 * 1024 * 1024;
  const { hostname, port } = new URL(tracker.url);
  return new Promise<{ status: number; body: string; sent: number }>((resolve, reject) => {
    let sent = 0;
    const req = http.request(
      {
        host: hostname,
        port,
        method: "POST",
        path: `/regions/${region}/logs/ingest`,
        headers: {
          "content-type": "application/json",
          "content-length": String(total),
          ...(authorization ? { authorization } : {}),
        },
      },
      (res) => {
        let body = "";
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => {
          clearTimeout(timer);
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body, sent });
        });
      },
    );
    req.on("error", () => {});
    const chunk = Buffer.alloc(64 * 1024, "[");
    req.write(chunk);
    sent += chunk.length;
    const timer = setTimeout(() => {
      req.destroy();
      reject(new Error(`no answer after ${sent} of ${total} bytes: the body is being read first`));
    }, 20_000);
  });
}

describe("ingestion key before the body", () => {
  it("refuses an unauthenticated 10 MB body before it has been sent", async () => {
    const before = tracker.stats();
    const wrong = await partialUpload("us-south", basic("not-the-key"));
    expect(wrong.status).toBe(401);
    expect(wrong.sent).toBeLessThan(10 * 1024 * 1024);
    const none = await partialUpload("us-south");
    expect(none.status).toBe(401);
    // A region it does not serve is refused just as early.
    expect((await partialUpload("ap-north", basic("key-us"))).status).toBe(404);
    expect(tracker.stats()).toEqual(before);
  });

  it("still takes a batch with the right key", async () => {
    const res = await fetch(`${tracker.url}/regions/us-south/logs/ingest`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: basic("key-us") },
      body: JSON.stringify({ lines: [lineOf(makeEvent())] }),
    });
    expect(res.status).toBe(200);
  });
});

describe("what the tracker says", () => {
  it("answers a 500 without the error's text; the log has it", async () => {
    await t.sql`alter table tracker.events rename to events_away`;
    let res: Response;
    try {
      res = await fetch(`${tracker.url}/regions/us-south/logs/ingest`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: basic("key-us") },
        body: JSON.stringify({ lines: [lineOf(makeEvent())] }),
      });
    } finally {
      await t.sql`alter table tracker.events_away rename to events`;
    }
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).toMatch(/internal error \(request [0-9a-f-]{36}\)/);
    expect(text).not.toMatch(/relation|events|tracker\.|insert|select|postgres/i);
    expect(logged.join("\n")).toMatch(/relation .*events.* does not exist/);
  });

  it("/metrics names no versions, addresses or keys", async () => {
    const text = await (await fetch(`${tracker.url}/metrics`)).text();
    expect(text).toMatch(/berth_tracker_/);
    expect(text).not.toMatch(/version/i);
    expect(text).not.toMatch(/postgres:|127\.0\.0\.1|key-us|query-key-123/);
    // The database's port as an address or a label would carry it (":5432", "5432"); a bare
    // digit run is not checked, since metric values (bytes, seconds) may contain it by chance.
    const port = new URL(t.url).port;
    expect(text).not.toContain(`:${port}`);
    expect(text).not.toContain(`"${port}"`);
  });

  it("/readyz says the database is unreachable, and nothing about it", async () => {
    // A TCP proxy in front of Postgres, to take the database away from this tracker only.
    const target = new URL(t.url);
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      const upstream = net.connect(Number(target.port), target.hostname);
      for (const s of [client, upstream]) {
        sockets.add(s);
        s.on("error", () => {});
        s.on("close", () => sockets.delete(s));
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((r) => proxy.listen(0, "127.0.0.1", r));
    const proxyPort = (proxy.address() as AddressInfo).port;
    const via = new URL(t.url);
    via.port = String(proxyPort);
    const other = await startTracker({
      databaseUrl: via.toString(),
      ingestionKeys: "key-x",
      queryKey: "query-key-x",
      migrate: false,
      logger: pino({ level: "silent" }),
    });
    try {
      expect((await fetch(`${other.url}/readyz`)).status).toBe(200);
      await new Promise<void>((r) => {
        proxy.close(() => r());
        for (const s of sockets) s.destroy();
      });
      let res = await fetch(`${other.url}/readyz`);
      for (let i = 0; i < 100 && res.status !== 503; i++) {
        await new Promise((r) => setTimeout(r, 100));
        res = await fetch(`${other.url}/readyz`);
      }
      expect(res.status).toBe(503);
      const body = await res.text();
      expect(JSON.parse(body)).toEqual({ status: "unavailable", reason: "database unreachable" });
      expect(body).not.toContain(String(proxyPort));
    } finally {
      await other.stop();
    }
  });
});

describe("built-in keys on a reachable address", () => {
  const pkgDir = fileURLToPath(new URL("..", import.meta.url));
  const run = (env: Record<string, string>) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: pkgDir,
      env: { ...process.env, BERTH_TRACKER_PORT: "0", BERTH_LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    return new Promise<{ code: number | null; err: string }>((resolve) =>
      child.on("exit", (code) => {
        clearTimeout(timer);
        resolve({ code, err });
      }),
    );
  };

  it("the tracker process refuses to start, naming what to set", async () => {
    const keys = await run({ BERTH_HOST: "0.0.0.0", DATABASE_URL: t.url });
    expect(keys.code).toBe(2);
    expect(keys.err).toMatch(/BERTH_TRACKER_KEYS: must be set/);
    expect(keys.err).toMatch(/BERTH_TRACKER_QUERY_KEY: must be set/);
    expect(keys.err).not.toMatch(/DATABASE_URL/);
    // A built-in key given explicitly is no better; nor is the embedded database's password.
    const db = await run({
      BERTH_HOST: "0.0.0.0",
      BERTH_TRACKER_KEYS: "us-south=berth-local-ingestion-key",
      BERTH_TRACKER_QUERY_KEY: "a-real-query-key",
      DATABASE_URL: "",
    });
    expect(db.code).toBe(2);
    expect(db.err).toMatch(/BERTH_TRACKER_KEYS/);
    expect(db.err).toMatch(/DATABASE_URL: must name a Postgres with its own password/);
  });

  it("startTracker refuses them too", async () => {
    await expect(
      startTracker({
        databaseUrl: t.url,
        host: "0.0.0.0",
        migrate: false,
        logger: pino({ level: "silent" }),
      }),
    ).rejects.toThrow(ConfigError);
  });
});
