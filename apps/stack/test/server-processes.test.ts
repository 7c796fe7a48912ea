import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  cleanEnv,
  groupMembers,
  type Launched,
  launch,
  waitForSummary,
  waitGroupGone,
} from "./launch";

// `pnpm start` with BERTH_SERVER_PROCESSES=2: two server processes share the region's port
// (node's cluster module, connections handed to each in turn). Every request below opens a
// connection of its own, so consecutive requests land on alternating processes: an upload's
// chunks are written by both, and failed authentications are counted by both, which together
// allow no more than BERTH_AUTH_FAILURE_LIMIT.

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const KEY = `stack-processes-${randomBytes(12).toString("hex")}`;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request on a connection of its own (no keep-alive), so the balancing applies. */
function send(
  base: string,
  method: string,
  path: string,
  opts: { auth?: string; body?: Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, base), {
      method,
      agent: false,
      headers: {
        authorization: `Basic ${Buffer.from(`iamapikey:${opts.auth ?? KEY}`).toString("base64")}`,
        ...(opts.body ? { "content-length": String(opts.body.length) } : {}),
        ...opts.headers,
      },
    });
    req.once("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.once("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.once("error", reject);
    req.end(opts.body);
  });
}

let stack: Launched | undefined;
afterAll(async () => {
  if (stack && stack.child.exitCode === null) stack.kill();
});

describe("pnpm start with two server processes", () => {
  it("serves one port from both, uploads across them, and shares the auth failure limit", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "berth-stack-procs-"));
    stack = launch(
      REPO,
      cleanEnv({
        BERTH_DATA_DIR: dataDir,
        BERTH_PORT: "0",
        BERTH_TRACKER_PORT: "0",
        BERTH_SERVER_PROCESSES: "2",
        BERTH_AUTH_FAILURE_LIMIT: "4",
        BERTH_DEV_API_KEY: KEY,
      }),
      join(dataDir, "pg"),
    );
    await waitForSummary(stack);
    expect(stack.output()).toMatch(/^registry {2}us-south .*2 processes\)/m);
    const servers = groupMembers(stack.child.pid!).filter((c) => c.includes("server/src/main.ts"));
    expect(servers, groupMembers(stack.child.pid!).join("\n")).toHaveLength(2);
    const base = stack.url("registry");

    const ns = await send(base, "POST", "/trpc/namespace.create", {
      body: Buffer.from(JSON.stringify({ name: "procs" })),
      headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
    });
    expect(ns.status, ns.body.toString()).toBe(200);
    const layer = randomBytes(3 * 1024 * 1024 + 5);
    const started = await send(base, "POST", "/v2/procs/app/blobs/uploads/");
    expect(started.status, started.body.toString()).toBe(202);
    let location = started.headers.location as string;
    const cuts = [0, 1_000_000, 1_000_001, 2_500_000, layer.length];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const chunk = layer.subarray(cuts[i], cuts[i + 1]);
      const r = await send(base, "PATCH", location, {
        body: chunk,
        headers: {
          "content-type": "application/octet-stream",
          "content-range": `${cuts[i]}-${cuts[i + 1]! - 1}`,
        },
      });
      expect(r.status, `chunk ${i}: ${r.body.toString()}`).toBe(202);
      location = r.headers.location as string;
    }
    const digest = `sha256:${createHash("sha256").update(layer).digest("hex")}`;
    const put = await send(base, "PUT", `${location}?digest=${digest}`);
    expect(put.status, put.body.toString()).toBe(201);
    for (let i = 0; i < 2; i++) {
      const got = await send(base, "GET", `/v2/procs/app/blobs/${digest}`);
      expect(got.status).toBe(200);
      expect(got.body.equals(layer)).toBe(true);
    }

    // Wrong keys from one address: refused with 429 once the two processes together have
    // seen the limit (4) of failures, not twice that.
    const answers: number[] = [];
    for (let i = 0; i < 10 && !answers.includes(429); i++) {
      answers.push((await send(base, "GET", "/v2/", { auth: `wrong-${i}-${KEY}` })).status);
    }
    expect(answers.filter((s) => s === 401).length, String(answers)).toBeLessThanOrEqual(4);
    expect(answers, String(answers)).toContain(429);

    expect(await stack.interrupt()).toBe(0);
    expect(await waitGroupGone(stack.child.pid!)).toEqual([]);
  }, 600_000);
});
