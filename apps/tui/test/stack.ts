import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RegionName } from "@berth/core";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import { type CreatedAccount, createAccount, FsBlobStore } from "@berth/registry";
import { createTestImage } from "@berth/registry/testing";

/**
 * A real Berth stack for the TUI's tests: the server, the tracker and the outbox worker,
 * each its own process started from its `src/main.ts` (apps do not import apps), over a
 * fresh test database. The blob store the server uses is reachable here to add images.
 */

const TSX = fileURLToPath(new URL("../node_modules/.bin/tsx", import.meta.url));
const APPS = fileURLToPath(new URL("../../", import.meta.url));

export const INGESTION_KEY = "tui-test-ingestion-key";
export const QUERY_KEY = "tui-test-query-key";

export interface Stack {
  t: TestDatabase;
  /** The server's blob store (the same folder), for test images. */
  store: FsBlobStore;
  urls: Partial<Record<RegionName, string>>;
  url: string;
  trackerUrl?: string;
  alice: CreatedAccount;
  bob: CreatedAccount;
  /** Output of the children, for failure messages. */
  logs(): string;
  /** Stop the tracker process and start a new one on the same port (a tracker restart). */
  restartTracker(): Promise<void>;
  stop(): Promise<void>;
}

interface Child {
  name: string;
  child: ChildProcess;
  out: string[];
}

function start(
  name: string,
  entry: string,
  env: Record<string, string>,
  ready: RegExp,
  children: Child[],
): Promise<RegExpExecArray[]> {
  const child = spawn(TSX, [join(APPS, entry)], {
    cwd: join(APPS, entry.split("/")[0]!),
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const c: Child = { name, child, out: [] };
  children.push(c);
  return new Promise((resolve, reject) => {
    const found: RegExpExecArray[] = [];
    let text = "";
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start:\n${c.out.join("")}`)),
      90_000,
    );
    const onData = (chunk: Buffer) => {
      const s = chunk.toString();
      c.out.push(s);
      if (c.out.length > 2000) c.out.splice(0, 1000);
      text += s;
      const re = new RegExp(ready.source, "g");
      for (const m of text.matchAll(re)) found.push(m as RegExpExecArray);
      if (found.length > 0) {
        clearTimeout(timer);
        text = "";
        resolve(found);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (chunk: Buffer) => c.out.push(chunk.toString()));
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code}:\n${c.out.join("")}`));
    });
  });
}

function stopChild(c: Child): Promise<void> {
  return new Promise((resolve) => {
    const { child } = c;
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

/** An image of alice's in us-south, written straight into the stack's database and store. */
export function aliceImage(stack: Stack, repository: string, tag: string, created?: string) {
  return createTestImage(stack.t.db, stack.store, {
    accountId: stack.alice.account.id,
    region: "us-south",
    repository,
    tag,
    ...(created ? { created } : {}),
  });
}

export async function startStack(
  opts: { regions?: RegionName[]; tracker?: boolean; worker?: boolean } = {},
): Promise<Stack> {
  const regions = opts.regions ?? ["us-south"];
  const t = await createTestDatabase();
  const dataDir = mkdtempSync(join(tmpdir(), "berth-tui-"));
  const children: Child[] = [];
  try {
    let trackerUrl: string | undefined;
    const startTracker = async (port: string) => {
      const [m] = await start(
        "tracker",
        "tracker/src/main.ts",
        {
          DATABASE_URL: t.url,
          BERTH_TRACKER_PORT: port,
          BERTH_TRACKER_KEYS: INGESTION_KEY,
          BERTH_TRACKER_QUERY_KEY: QUERY_KEY,
          BERTH_LOG_LEVEL: "warn",
        },
        /tracker\s+(http:\/\/\S+)/,
        children,
      );
      return m![1]!;
    };
    if (opts.tracker !== false) trackerUrl = await startTracker("0");
    const serverEnv: Record<string, string> = {
      DATABASE_URL: t.url,
      BERTH_DATA_DIR: dataDir,
      BERTH_HOST: "127.0.0.1",
      BERTH_REGIONS: regions.map((r) => `${r}=0`).join(","),
      BERTH_LOG_LEVEL: "info",
      BERTH_TRACKER_URL: trackerUrl ?? "http://127.0.0.1:1",
      BERTH_TRACKER_QUERY_KEY: QUERY_KEY,
    };
    const listening = await waitAll(
      start(
        "server",
        "server/src/main.ts",
        serverEnv,
        /"region":"([a-z-]+)","url":"(http:\/\/[^"]+)"/,
        children,
      ),
      children.find((c) => c.name === "server")!,
      regions.length,
    );
    const urls: Stack["urls"] = {};
    for (const m of listening) urls[m[1] as RegionName] = m[2]!;
    if (opts.worker !== false && trackerUrl) {
      await start(
        "worker",
        "worker/src/main.ts",
        {
          DATABASE_URL: t.url,
          BERTH_TRACKER_URL: trackerUrl,
          BERTH_TRACKER_KEYS: INGESTION_KEY,
          BERTH_WORKER_PORT: "0",
          BERTH_WORKER_POLL_MS: "200",
          BERTH_LOG_LEVEL: "warn",
        },
        /worker\s+(http:\/\/\S+)/,
        children,
      );
    }
    const alice = await createAccount(t.db, { name: "alice", userName: "alice@example.com" });
    const bob = await createAccount(t.db, { name: "bob", userName: "bob@example.com" });
    return {
      t,
      store: new FsBlobStore(join(dataDir, "blobs")),
      urls,
      url: urls[regions[0]!]!,
      ...(trackerUrl ? { trackerUrl } : {}),
      alice,
      bob,
      logs: () => children.map((c) => `--- ${c.name}\n${c.out.join("").slice(-4000)}`).join("\n"),
      async restartTracker() {
        const old = children.find((c) => c.name === "tracker" && c.child.exitCode === null);
        if (!old || !trackerUrl) throw new Error("this stack has no running tracker");
        // Its exit is expected now: start() rejects on exit only while starting.
        await stopChild(old);
        children.splice(children.indexOf(old), 1);
        await startTracker(new URL(trackerUrl).port);
      },
      async stop() {
        // Reverse order: the worker and server before the tracker they talk to.
        for (const c of [...children].reverse()) await stopChild(c);
        await t.drop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    for (const c of [...children].reverse()) await stopChild(c);
    await t.drop();
    throw error;
  }
}

/** The server logs one "listening" line per region; wait for all of them. */
async function waitAll(
  first: Promise<RegExpExecArray[]>,
  server: Child,
  count: number,
): Promise<RegExpExecArray[]> {
  await first;
  const deadline = Date.now() + 60_000;
  const re = /"region":"([a-z-]+)","url":"(http:\/\/[^"]+)"/g;
  for (;;) {
    const all = [...server.out.join("").matchAll(re)] as RegExpExecArray[];
    if (all.length >= count) return all;
    if (Date.now() > deadline) throw new Error(`server did not listen:\n${server.out.join("")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Poll `check` until it holds, within a bounded time; never a fixed sleep. */
export async function until(
  check: () => boolean | Promise<boolean>,
  what: string | (() => string),
  ms = 20_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
