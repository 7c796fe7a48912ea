import { request } from "node:http";
import type { TailMessage } from "@berth/api";
import { createBerthClient, untracked } from "@berth/client";
import { createTestDatabase } from "@berth/db/testing";
import { QUERY_KEY, startTrackerProcess } from "@berth/harness";
import { createAccount } from "@berth/registry";
import { afterAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server";
import { forFile, serverOn, waitFor } from "./helpers";

// Shutting down with long-lived requests open (an events.tail subscription, an upload whose
// body never ends): close() waits a short grace, then ends those connections, so SIGTERM
// stops the process promptly instead of waiting on clients that never leave.

const t = await forFile(createTestDatabase());
const tracker = await startTrackerProcess({ databaseUrl: t.url });
afterAll(() => tracker.stop());

async function start(): Promise<RunningServer> {
  return serverOn(t.db, { tracker: { url: tracker.url, queryKey: QUERY_KEY } });
}

/** close() settles within `ms` (generous: this bounds a hang, it does not time the close). */
async function closesWithin(server: RunningServer, ms: number): Promise<"closed" | "hung"> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<"hung">((resolve) => {
    timer = setTimeout(() => resolve("hung"), ms);
  });
  try {
    return await Promise.race([server.close().then(() => "closed" as const), hung]);
  } finally {
    clearTimeout(timer);
  }
}

describe("close()", () => {
  it("ends a live events.tail subscription instead of waiting for it", async () => {
    const server = await start();
    const alice = await createAccount(t.db, { name: "alice", userName: "alice@example.com" });
    const client = createBerthClient({ url: server.urls["us-south"]!, apiKey: alice.apiKey });
    const messages: TailMessage[] = [];
    const sub = client.events.tail.subscribe(
      {},
      { onData: (m) => void messages.push(untracked(m)) },
    );
    try {
      await waitFor("the tail to be ready", () => messages.length > 0);
      expect(messages[0]).toMatchObject({ kind: "ready" });
      expect(await closesWithin(server, 30_000)).toBe("closed");
    } finally {
      sub.unsubscribe();
    }
  });

  it("ends a request whose body never finishes", async () => {
    const server = await start();
    const url = new URL(`${server.urls["us-south"]!}/build/context`);
    const alice = await createAccount(t.db, { name: "alice2", userName: "alice2@example.com" });
    const req = request(url, {
      method: "POST",
      headers: {
        authorization: `Bearer ${alice.apiKey}`,
        "content-type": "application/x-tar",
        "content-length": "1048576",
      },
    });
    const ended = new Promise<void>((resolve) => {
      req.on("error", () => resolve());
      req.on("response", (res) => {
        res.resume();
        res.on("close", () => resolve());
      });
    });
    // Some of the body, then nothing more: the request stays in flight.
    req.write(Buffer.alloc(512));
    await new Promise((r) => setTimeout(r, 100));
    expect(await closesWithin(server, 30_000)).toBe("closed");
    await ended;
    req.destroy();
  });
});
