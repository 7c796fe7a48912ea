import { type ChildProcess, spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./helpers";

// Issue 12: what a tenant learns from delivery.status / delivery.dead when delivery fails.
// The real worker process delivers to a tracker at a private path that answers with internal
// detail; the tenant must see the kind of failure, never the tracker's address or answer.

const workerDir = fileURLToPath(new URL("../../worker", import.meta.url));
const SECRET_PATH = "/internal-tracker-7f3a";
const SECRET_BODY = "stack: IngestError at /srv/tracker/ingest.js:42 key=berth-local-ingestion-key";

let env: TestServer;
let hostile: Server;
let hostileUrl: string;
const children: ChildProcess[] = [];

beforeAll(async () => {
  env = await startTestServer();
  hostile = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(400, { "content-type": "text/plain" });
      res.end(SECRET_BODY);
    });
  });
  await new Promise<void>((r) => hostile.listen(0, "127.0.0.1", r));
  hostileUrl = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}${SECRET_PATH}`;
});
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await new Promise((r) => hostile?.close(r));
  await env?.close();
});

/** The worker process against `trackerUrl`, one attempt per event; resolves its stderr reader. */
function worker(trackerUrl: string) {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: workerDir,
    env: {
      ...process.env,
      DATABASE_URL: env.t.url,
      BERTH_TRACKER_URL: trackerUrl,
      BERTH_TRACKER_KEYS: "test-ingest-key",
      BERTH_WORKER_PORT: "0",
      BERTH_WORKER_POLL_MS: "200",
      BERTH_WORKER_MAX_ATTEMPTS: "1",
      BERTH_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  children.push(child);
  let err = "";
  child.stderr!.on("data", (d) => {
    err += d;
  });
  return {
    log: () => err,
    stop: () =>
      new Promise((r) => {
        if (child.exitCode !== null) return r(null);
        child.on("exit", r);
        child.kill("SIGTERM");
      }),
  };
}

/** Alice's dead letters once none of her events is pending any more. */
async function deadOf() {
  const A = env.client(env.alice);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const status = await A.delivery.status.query();
    if (status.pending === 0 && status.dead > 0) return A.delivery.dead.query();
    if (Date.now() > deadline)
      throw new Error(`delivery did not settle: ${JSON.stringify(status)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const leaks = (text: string) =>
  [
    SECRET_PATH,
    "IngestError",
    "/srv/tracker",
    "berth-local-ingestion-key",
    "127.0.0.1",
    String((hostile.address() as AddressInfo).port),
    "ECONNREFUSED",
  ].filter((s) => text.includes(s));

describe("dead-letter reasons shown to tenants", () => {
  it("say the tracker rejected the event, not where the tracker is or what it answered", async () => {
    await env.client(env.alice).namespace.create.mutate({ name: "reasons-one" });
    const w = worker(hostileUrl);
    try {
      const dead = await deadOf();
      expect(new Set(dead.map((d) => d.reason))).toEqual(
        new Set(["tracker rejected the event (400)"]),
      );
      // The event itself is the tenant's own (its initiator has the client's address).
      expect(leaks(JSON.stringify(dead.map((d) => ({ ...d, event: null }))))).toEqual([]);
      expect(leaks(JSON.stringify(await env.client(env.alice).delivery.status.query()))).toEqual(
        [],
      );
      // The operator's log has what the tenant is not shown.
      const deadline = Date.now() + 10_000;
      while (!w.log().includes(SECRET_PATH) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(w.log()).toContain(SECRET_PATH);
      expect(w.log()).toContain("IngestError");
    } finally {
      await w.stop();
    }
  });

  it("say the tracker is unreachable, not its address or the socket error", async () => {
    await env.client(env.alice).delivery.redrive.mutate();
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const w = worker(`http://127.0.0.1:${port}${SECRET_PATH}`);
    try {
      const dead = await deadOf();
      expect(new Set(dead.map((d) => d.reason))).toEqual(
        new Set(["gave up after 1 attempts: tracker unreachable"]),
      );
      // The event itself is the tenant's own (its initiator has the client's address).
      expect(leaks(JSON.stringify(dead.map((d) => ({ ...d, event: null }))))).toEqual([]);
      expect(JSON.stringify(dead.map((d) => d.reason))).not.toContain(String(port));
    } finally {
      await w.stop();
    }
  });
});
