import { createDb } from "@berth/db";
import { createTestDatabase } from "@berth/db/testing";
import { basic, pushImage, randomImage, startPgProxy, uploadBlob } from "@berth/harness";
import { createAccount } from "@berth/registry";
import { afterAll, describe, expect, it } from "vitest";
import { forFile, rid, serverOn } from "../helpers";
import { postTrpc } from "../raw-requests";

// The connection to Postgres lost while a change is being committed: the database committed
// it, the server did not hear back. Answering "failed, try again" would be false (the change
// and its success event are there, and a retry would do it twice); the server asks the
// database what became of its transaction and answers accordingly.

const t = await forFile(createTestDatabase());
const proxy = await startPgProxy(t.url);
const { db, sql } = createDb(proxy.url);
const server = await serverOn(db);
const url = server.urls["us-south"]!;
const alice = await createAccount(t.db, { name: "alice" });
afterAll(async () => {
  await server.close();
  await sql.end({ timeout: 1 });
  await proxy.close();
});

const events = async (requestId: string) =>
  (await t.sql`select payload->>'outcome' as outcome from outbox
                where payload->>'correlationId' = ${requestId}`) as unknown as {
    outcome: string;
  }[];

async function createNamespace(name: string, requestId: string) {
  const res = await postTrpc(
    url,
    alice.apiKey,
    "namespace.create",
    { name },
    {
      "x-request-id": requestId,
    },
  );
  return { status: res.status, body: await res.text() };
}

describe("a commit in doubt", () => {
  it("that committed is answered as the success it was, with its one event", async () => {
    const requestId = rid("doubt");
    proxy.dropNextCommit();
    const res = await createNamespace("indoubt", requestId);
    expect(proxy.dropped()).toBe(true);
    expect(res.status, res.body).toBe(200);
    expect(await events(requestId)).toEqual([{ outcome: "success" }]);
    const [row] = await t.sql`select count(*)::int as n from namespaces where name = 'indoubt'`;
    expect(row!.n).toBe(1);
  });

  it("a manifest push whose commit is cut is answered 201, pushed once", async () => {
    const image = randomImage([1024]);
    const auth = basic("iamapikey", alice.apiKey);
    for (const [i, blob] of [image.config, ...image.layers].entries()) {
      await uploadBlob(url, "indoubt/app", blob, { auth, requestId: rid(`b${i}`) });
    }
    const requestId = rid("doubt-push");
    proxy.dropNextCommit();
    const res = await fetch(`${url}/v2/indoubt/app/manifests/1`, {
      method: "PUT",
      headers: {
        authorization: auth,
        "content-type": "application/vnd.oci.image.manifest.v1+json",
        "x-request-id": requestId,
      },
      body: image.manifest,
    });
    expect(proxy.dropped()).toBe(true);
    expect(res.status, await res.text()).toBe(201);
    expect(await events(requestId)).toEqual([{ outcome: "success" }]);
    await pushImage(url, "indoubt/app", "2", image, { auth, requestId: rid() });
  });

  it("of an audited read's events (their batch) is answered as the success it was, with its one event", async () => {
    const requestId = rid("doubt-read");
    // The batch is one statement, its own transaction: its answer is what gets lost.
    proxy.dropAnswerTo(requestId);
    const res = await fetch(`${url}/trpc/quota.get`, {
      headers: { authorization: `Bearer ${alice.apiKey}`, "x-request-id": requestId },
    });
    expect(proxy.dropped()).toBe(true);
    expect(res.status, await res.text()).toBe(200);
    expect(await events(requestId)).toEqual([{ outcome: "success" }]);
  });

  it("whose outcome cannot be learned (the database stays away) is 503 saying the change may be saved", async () => {
    const requestId = rid("doubt-down");
    // The database goes away the moment it commits, for longer than the server waits.
    proxy.dropNextCommit({ thenDown: true });
    const res = await createNamespace("maybesaved", requestId);
    await proxy.down(false);
    expect(proxy.dropped()).toBe(true);
    expect(res.status, res.body).toBe(503);
    expect(res.body).toMatch(/may have been saved/);
    // It had committed: the change and its success event are there, and no failure event.
    expect(await events(requestId)).toEqual([{ outcome: "success" }]);
  });

  it("of an audited read's events that cannot be learned is 503, with no failure event", async () => {
    const requestId = rid("doubt-read-down");
    proxy.dropAnswerTo(requestId, { thenDown: true });
    const res = await fetch(`${url}/trpc/quota.get`, {
      headers: { authorization: `Bearer ${alice.apiKey}`, "x-request-id": requestId },
    });
    const body = await res.text();
    await proxy.down(false);
    expect(proxy.dropped()).toBe(true);
    expect(res.status, body).toBe(503);
    expect(body).toMatch(/may have been saved/);
    expect(await events(requestId)).toEqual([{ outcome: "success" }]);
  });
});
