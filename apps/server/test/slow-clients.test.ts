import { randomBytes } from "node:crypto";
import net from "node:net";
import { createTestDatabase } from "@berth/db/testing";
import { basic, trpc, until } from "@berth/harness";
import { createAccount } from "@berth/registry";
import { describe, expect, it } from "vitest";
import type { ClientTimeouts } from "../src/slow-clients";
import { forFile, serverOn } from "./helpers";

// A client that opens an upload and trickles bytes, or goes silent, does not keep the upload
// (its lock, its file, its connection) for ever: the connection is cut, the upload keeps
// what it had before, and the next request on it works.

const t = await forFile(createTestDatabase());
const alice = await createAccount(t.db, { name: "alice" });
const auth = () => basic("iamapikey", alice.apiKey);

/** A server with `timeouts` and an upload of alice's opened on it in `namespace`, for `fn`. */
async function withUpload(
  timeouts: ClientTimeouts,
  namespace: string,
  fn: (url: string, location: string) => Promise<void>,
): Promise<void> {
  const server = await serverOn(t.db, { timeouts });
  try {
    const url = server.urls["us-south"]!;
    await fn(url, await openUpload(url, namespace));
  } finally {
    await server.close();
  }
}

async function openUpload(url: string, namespace: string): Promise<string> {
  await trpc(url, alice.apiKey, "namespace.create", { name: namespace }, `slow-${namespace}`).catch(
    () => {},
  );
  const res = await fetch(`${url}/v2/${namespace}/app/blobs/uploads/`, {
    method: "POST",
    headers: { authorization: auth() },
  });
  expect(res.status).toBe(202);
  return res.headers.get("location")!;
}

/** A PATCH whose headers promise `length` bytes, on a raw socket we write the body to. */
function rawPatch(url: string, location: string, length: number) {
  const { hostname, port } = new URL(url);
  const socket = net.connect(Number(port), hostname);
  let closed = false;
  socket.on("close", () => {
    closed = true;
  });
  socket.on("error", () => {});
  socket.write(
    `PATCH ${location} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: ${auth()}\r\n` +
      `Content-Type: application/octet-stream\r\nContent-Length: ${length}\r\n\r\n`,
  );
  return { socket, closed: () => closed };
}

const patch = (url: string, location: string, body: Buffer) =>
  fetch(`${url}${location}`, {
    method: "PATCH",
    headers: { authorization: auth(), "content-type": "application/octet-stream" },
    body,
  });

/** A PATCH, sent again while the upload is still taken by a request being torn down. */
async function patchOnceFree(url: string, location: string, body: Buffer): Promise<Response> {
  return until("the upload to be released", async () => {
    const res = await patch(url, location, body);
    if (res.status === 400 && /another request is writing/.test(await res.clone().text())) {
      return undefined;
    }
    return res;
  });
}

describe("slow clients", () => {
  it("a body trickled slower than the minimum rate is cut, and its upload released", async () => {
    const timeouts = {
      idleMs: 60_000,
      minBodyBytesPerSecond: 1000,
      // Long enough for the probe below to see the upload taken on a busy machine.
      bodyWindowMs: 3000,
    };
    await withUpload(timeouts, "trickle", async (url, location) => {
      const slow = rawPatch(url, location, 100_000);
      // Above the minimum rate until the probe has seen the upload taken, then below it: the
      // cut then comes after the probe however slow the machine is.
      let chunk = "x".repeat(200);
      const drip = setInterval(() => slow.socket.write(chunk), 100);
      try {
        // The trickler holds the upload once its bytes reach the upload's file (appends
        // happen only under the upload's lock); read with GET, which takes no lock, so the
        // probe cannot win the lock first.
        await until("the trickled bytes to reach the upload", async () => {
          if (slow.closed()) throw new Error("the trickler was cut before it wrote");
          const status = await fetch(`${url}${location}`, { headers: { authorization: auth() } });
          return status.headers.get("range") !== "0-0" ? true : undefined;
        });
        // While it trickles, the upload is taken. (Probed with a chunk at a wrong offset:
        // refused for the lock while it is held, else for the offset, changing nothing.)
        const probe = await fetch(`${url}${location}`, {
          method: "PATCH",
          headers: { authorization: auth(), "content-range": "999999-999999" },
          body: "x",
        });
        expect(await probe.text()).toMatch(/another request is writing/);
        const busy = probe.status;
        expect(busy).toBe(400);
        chunk = "x";
        await until(
          "the trickling connection to be cut",
          () => (slow.closed() ? true : undefined),
          30_000,
        );
      } finally {
        clearInterval(drip);
        slow.socket.destroy();
      }
      // The trickled bytes went with the cut; the upload takes the next chunk from 0 (once
      // the server has seen the cut: it releases the upload as soon as it notices).
      const next = await patchOnceFree(url, location, Buffer.from("0123456789"));
      expect(next.status).toBe(202);
      expect(next.headers.get("range")).toBe("0-9");
      // A client at a normal pace is not affected.
      const big = await patch(url, location, randomBytes(2 * 1024 * 1024));
      expect(big.status).toBe(202);
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/berth_slow_requests_cut_total\{region="us-south"\} [1-9]/);
    });
  });

  it("a connection that goes silent mid-body is closed after the idle timeout, its upload released", async () => {
    const timeouts = { idleMs: 1000, minBodyBytesPerSecond: 0, bodyWindowMs: 30_000 };
    await withUpload(timeouts, "silent", async (url, location) => {
      const silent = rawPatch(url, location, 100_000);
      silent.socket.write("partial");
      await until(
        "the silent connection to be closed",
        () => (silent.closed() ? true : undefined),
        30_000,
      );
      const next = await patchOnceFree(url, location, Buffer.from("abc"));
      expect(next.status).toBe(202);
      expect(next.headers.get("range")).toBe("0-2");
    });
  });
});
