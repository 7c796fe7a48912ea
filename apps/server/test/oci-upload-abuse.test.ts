import { randomBytes } from "node:crypto";
import { request as httpRequest } from "node:http";
import { STORAGE_QUOTA_MESSAGE } from "@berth/core";
import { FsBlobStore } from "@berth/registry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server";
import { forFile, rid, serverOn } from "./helpers";
import { expectError, OciClient, sha256 } from "./oci-client";
import { startOciEnv } from "./oci-helpers";

/*
 * A tenant abusing uploads through /v2 (issue 12): a narrower credential mounting
 * another repository's blobs, and filling the disk past the storage quota or with one
 * enormous blob.
 */

const env = await forFile(startOciEnv());

/** The single event of a request: a failed image.push with this status and reason. */
async function expectPushFailure(id: string, status: number, reason?: string): Promise<void> {
  const events = await env.events(id);
  expect(events, `events of ${id}`).toHaveLength(1);
  const { event } = events[0]!;
  expect(event.action).toBe("container-registry.image.push");
  expect(event.outcome).toBe("failure");
  expect(event.reason.reasonCode).toBe(status);
  if (reason) expect(event.reason.reasonForFailure).toBe(reason);
}

/** Bytes an upload holds, from its status (Range: 0-<last byte>). */
async function offsetOf(client: OciClient, location: string): Promise<number> {
  const r = await client.request("GET", location);
  expect(r.status, await r.clone().text()).toBe(204);
  const range = r.headers.get("range")!;
  const end = Number(range.split("-")[1]);
  return range === "0-0" ? 0 : end + 1;
}

async function startUpload(client: OciClient, repo: string): Promise<string> {
  const r = await client.request("POST", `/v2/${repo}/blobs/uploads/`);
  expect(r.status, await r.clone().text()).toBe(202);
  return r.headers.get("location")!;
}

describe("cross-repository mount", () => {
  it("mounts nothing without `from`: a token for repository b cannot link a blob of repository a", async () => {
    const erin = await env.tenant("erin");
    const key = OciClient.basic(env.url(), "iamapikey", erin.apiKey);
    const digest = await key.pushBlob("erinns/a", randomBytes(3000));
    const onlyB = await OciClient.bearer(env.url(), "iamapikey", erin.apiKey, [
      "repository:erinns/b:pull,push",
    ]);
    // The old code searched every repository of the account and answered 201.
    const mount = await onlyB.request("POST", `/v2/erinns/b/blobs/uploads/?mount=${digest}`);
    expect(mount.status, await mount.clone().text()).toBe(202);
    expect(mount.headers.get("docker-upload-uuid")).toBeTruthy();
    expect(mount.headers.get("location")).toMatch(/^\/v2\/erinns\/b\/blobs\/uploads\//);
    await expectError(
      await onlyB.request("GET", `/v2/erinns/b/blobs/${digest}`),
      404,
      "BLOB_UNKNOWN",
    );
    // Naming `from` does not help without pull access on it.
    const named = await onlyB.request(
      "POST",
      `/v2/erinns/b/blobs/uploads/?mount=${digest}&from=erinns/a`,
    );
    expect(named.status).toBe(202);
    await expectError(
      await onlyB.request("GET", `/v2/erinns/b/blobs/${digest}`),
      404,
      "BLOB_UNKNOWN",
    );
    // With pull on `from` the mount is made.
    const both = await OciClient.bearer(env.url(), "iamapikey", erin.apiKey, [
      "repository:erinns/b:pull,push",
      "repository:erinns/a:pull",
    ]);
    const granted = await both.request(
      "POST",
      `/v2/erinns/b/blobs/uploads/?mount=${digest}&from=erinns/a`,
    );
    expect(granted.status).toBe(201);
  });
});

describe("storage quota and open uploads", () => {
  it("counts the bytes of open uploads: the next chunk and the next upload are refused, audited, and the refused chunk is not kept", async () => {
    const fay = await env.tenant("fay", { storageMb: 1 });
    const client = OciClient.basic(env.url(), "iamapikey", fay.apiKey);
    const first = await startUpload(client, "fayns/app");
    const second = await startUpload(client, "fayns/app");
    // Under the quota when it starts, a chunk may cross it (DESIGN §4: the operation that
    // crosses the limit completes).
    const big = await client.request("PATCH", first, { body: randomBytes(1_200_000) });
    expect(big.status, await big.clone().text()).toBe(202);

    // The old code checked the quota only when an upload started: this chunk was kept.
    const chunkId = rid("chunk-over-quota");
    const small = await client
      .withRequestId(chunkId)
      .request("PATCH", second, { body: randomBytes(1000) });
    expect(await expectError(small, 403, "DENIED")).toBe(STORAGE_QUOTA_MESSAGE);
    await expectPushFailure(chunkId, 403, STORAGE_QUOTA_MESSAGE);
    expect(await offsetOf(client, second)).toBe(0);

    // An open upload's bytes count when an upload starts, too.
    const startId = rid("start-over-quota");
    const refused = await client
      .withRequestId(startId)
      .request("POST", "/v2/fayns/app/blobs/uploads/");
    expect(await expectError(refused, 403, "DENIED")).toBe(STORAGE_QUOTA_MESSAGE);
    await expectPushFailure(startId, 403, STORAGE_QUOTA_MESSAGE);

    // Cancelling the big upload frees the space.
    expect((await client.request("DELETE", first)).status).toBe(204);
    const again = await client.request("PATCH", second, { body: randomBytes(1000) });
    expect(again.status, await again.clone().text()).toBe(202);
    expect(await offsetOf(client, second)).toBe(1000);
  });

  it("cuts a chunk while it streams once the account's other uploads reach the quota, and rolls it back", async () => {
    const gus = await env.tenant("gus", { storageMb: 1 });
    const client = OciClient.basic(env.url(), "iamapikey", gus.apiKey);
    const slow = await startUpload(client, "gusns/app");
    const fast = await startUpload(client, "gusns/app");
    const head = randomBytes(100_000);
    const tail = randomBytes(1000);
    const id = rid("cut-while-streaming");
    const url = new URL(slow, env.url());
    let writeTail: () => void = () => {};
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        url,
        {
          method: "PATCH",
          headers: {
            authorization: client.authorization!,
            "x-request-id": id,
            "user-agent": "berth-test/1.0",
            "content-type": "application/octet-stream",
            "content-length": String(head.length + tail.length),
          },
        },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (c: string) => {
            body += c;
          });
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.write(head);
      writeTail = () => req.end(tail);
    });
    // Bounded wait until the slow chunk's first part is in its upload (GET takes no lock).
    for (let i = 0; (await offsetOf(client, slow)) < head.length; i++) {
      expect(i, "the slow chunk's first part never reached its upload").toBeLessThan(400);
      await new Promise((r) => setTimeout(r, 25));
    }
    // Meanwhile another upload of the account crosses the quota on its own.
    const big = await client.request("PATCH", fast, { body: randomBytes(1_200_000) });
    expect(big.status, await big.clone().text()).toBe(202);
    writeTail();
    const { status, body } = await answer;
    expect(status, body).toBe(403);
    expect(body).toContain("DENIED");
    await expectPushFailure(id, 403, STORAGE_QUOTA_MESSAGE);
    // The whole chunk is undone, not only its last part.
    expect(await offsetOf(client, slow)).toBe(0);
  });
});

describe("blob size cap", () => {
  let capped: RunningServer;
  let client: OciClient;
  const CAP = 64 * 1024;

  beforeAll(async () => {
    capped = await serverOn(env.t.db, {
      store: new FsBlobStore(env.store.root),
      maxBlobBytes: CAP,
    });
    const hal = await env.tenant("hal");
    client = OciClient.basic(capped.urls["us-south"]!, "iamapikey", hal.apiKey);
  });
  afterAll(async () => capped?.close());

  it("refuses a chunk whose Content-Length passes the cap before reading it (413, audited)", async () => {
    const location = await startUpload(client, "halns/big");
    const id = rid("declared-too-large");
    const r = await client
      .withRequestId(id)
      .request("PATCH", location, { body: randomBytes(CAP + 1) });
    await expectError(r, 413, "SIZE_INVALID");
    await expectPushFailure(id, 413);
    expect(await offsetOf(client, location)).toBe(0);
  });

  it("cuts a chunk without Content-Length when the blob passes the cap, keeping the earlier chunks", async () => {
    const location = await startUpload(client, "halns/big");
    const first = await client.request("PATCH", location, { body: randomBytes(CAP - 1000) });
    expect(first.status, await first.clone().text()).toBe(202);
    const id = rid("streamed-too-large");
    const parts = [randomBytes(800), randomBytes(800)];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = parts.shift();
        if (next) controller.enqueue(next);
        else controller.close();
      },
    });
    const r = await fetch(`${client.base}${location}`, {
      method: "PATCH",
      headers: { authorization: client.authorization!, "x-request-id": id },
      body,
      duplex: "half",
    } as RequestInit);
    await expectError(r, 413, "SIZE_INVALID");
    await expectPushFailure(id, 413);
    expect(await offsetOf(client, location)).toBe(CAP - 1000);
  });

  it("refuses a monolithic upload larger than the cap, and takes one at the cap", async () => {
    const bytes = randomBytes(CAP + 10);
    const r = await client.request("POST", `/v2/halns/big/blobs/uploads/?digest=${sha256(bytes)}`, {
      body: bytes,
      headers: { "content-type": "application/octet-stream" },
    });
    await expectError(r, 413, "SIZE_INVALID");
    const fits = randomBytes(CAP);
    const ok = await client.request("POST", `/v2/halns/big/blobs/uploads/?digest=${sha256(fits)}`, {
      body: fits,
      headers: { "content-type": "application/octet-stream" },
    });
    expect(ok.status, await ok.clone().text()).toBe(201);
  });
});
