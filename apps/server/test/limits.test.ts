import { randomUUID } from "node:crypto";
import { MAX_MANIFEST_BYTES } from "@berth/core";
import { repositories, uploadSessions } from "@berth/db";
import { stateFingerprint } from "@berth/db/testing";
import { basic, pushImage, randomImage, successEvents, trpc } from "@berth/harness";
import { MAX_OPEN_UPLOADS, MAX_PAGE } from "@berth/registry";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { forFile, rid, startTestServer } from "./helpers";
import { postTrpc } from "./raw-requests";

// Every size a client controls has a limit, and going past it is a clear error of the right
// kind that changes nothing.

const env = await forFile(startTestServer());
const url = env.url();
const bearer = () => ({ authorization: `Bearer ${env.alice.apiKey}` });
const v2auth = () => ({ authorization: basic("iamapikey", env.alice.apiKey) });

beforeAll(async () => {
  await trpc(url, env.alice.apiKey, "namespace.create", { name: "limits" }, rid());
  await pushImage(url, "limits/app", "1", randomImage([1024]), {
    auth: basic("iamapikey", env.alice.apiKey),
    requestId: rid(),
  });
});

/** Run `attempt`, then check that the state and the success events are as before. */
async function changesNothing(attempt: () => Promise<void>): Promise<void> {
  const before = await stateFingerprint(env.t.sql);
  const events = await successEvents(env.t.sql);
  await attempt();
  expect(await stateFingerprint(env.t.sql)).toEqual(before);
  expect(await successEvents(env.t.sql)).toBe(events);
}

const json = async (res: Response) => JSON.parse(await res.text());

describe("limits", () => {
  it("a tRPC body over 1 MiB is 413", () =>
    changesNothing(async () => {
      const res = await postTrpc(url, env.alice.apiKey, "namespace.create", {
        name: "x".repeat(1024 * 1024 + 1),
      });
      expect(res.status).toBe(413);
      expect((await json(res)).message).toMatch(/too large/i);
    }));

  it("a tRPC batch of more than 50 calls is 400, and none of them runs", () =>
    changesNothing(async () => {
      const n = 51;
      const paths = Array.from({ length: n }, () => "namespace.create").join(",");
      const body = Object.fromEntries(
        Array.from({ length: n }, (_, i) => [i, { name: `batch${i}x` }]),
      );
      const res = await fetch(`${url}/trpc/${paths}?batch=1`, {
        method: "POST",
        headers: { ...bearer(), "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      expect(res.status).toBe(400);
      expect(JSON.stringify(await json(res))).toMatch(/batch/i);
    }));

  it("page sizes past their maximum are refused naming the field, or capped where the protocol says so", async () => {
    await changesNothing(async () => {
      const events = await fetch(
        `${url}/trpc/events.query?input=${encodeURIComponent(JSON.stringify({ size: 100_000 }))}`,
        { headers: bearer() },
      );
      expect(events.status).toBe(400);
      expect((await json(events)).error.message).toBe(
        "size: Too big: expected number to be <=1000",
      );
      const dead = await fetch(
        `${url}/trpc/delivery.dead?input=${encodeURIComponent(JSON.stringify({ limit: 501 }))}`,
        { headers: bearer() },
      );
      expect(dead.status).toBe(400);
      expect((await json(dead)).error.message).toMatch(/^limit: Too big/);
      for (const n of ["-1", "abc", "1.5"]) {
        const tags = await fetch(`${url}/v2/limits/app/tags/list?n=${n}`, { headers: v2auth() });
        expect(tags.status).toBe(400);
        expect((await json(tags)).errors[0].message).toBe("n must be a whole number");
      }
    });
    // The distribution spec lets a registry return fewer than asked: n is capped.
    const big = await fetch(`${url}/v2/_catalog?n=1000000`, { headers: v2auth() });
    expect(big.status).toBe(200);
    expect(((await json(big)).repositories as string[]).length).toBeLessThanOrEqual(MAX_PAGE);
  });

  it("a manifest over 4 MiB is 413 MANIFEST_INVALID", () =>
    changesNothing(async () => {
      const res = await fetch(`${url}/v2/limits/app/manifests/huge`, {
        method: "PUT",
        headers: { ...v2auth(), "content-type": "application/vnd.oci.image.manifest.v1+json" },
        body: JSON.stringify({ schemaVersion: 2, pad: "x".repeat(MAX_MANIFEST_BYTES) }),
      });
      expect(res.status).toBe(413);
      expect((await json(res)).errors[0].code).toBe("MANIFEST_INVALID");
    }));

  it(`an account with ${MAX_OPEN_UPLOADS} open uploads gets TOOMANYREQUESTS for the next, audited`, async () => {
    const [repo] = await env.t.db
      .select({ id: repositories.id })
      .from(repositories)
      .where(eq(repositories.name, "limits/app"));
    const now = new Date();
    const rows = Array.from({ length: MAX_OPEN_UPLOADS }, () => ({
      id: randomUUID(),
      repositoryId: repo!.id,
      accountId: env.alice.account.id,
      offset: 0,
      startedAt: now,
      updatedAt: now,
    }));
    await env.t.db.insert(uploadSessions).values(rows);
    const requestId = rid("uploads");
    await changesNothing(async () => {
      const res = await fetch(`${url}/v2/limits/app/blobs/uploads/`, {
        method: "POST",
        headers: { ...v2auth(), "x-request-id": requestId },
      });
      expect(res.status).toBe(429);
      expect((await json(res)).errors[0]).toEqual({
        code: "TOOMANYREQUESTS",
        message: `too many uploads in progress (at most ${MAX_OPEN_UPLOADS}); finish or cancel some first`,
      });
    });
    const [event] = await env.events(requestId);
    expect(event?.event).toMatchObject({
      action: "container-registry.image.push",
      outcome: "failure",
      reason: { reasonCode: 429 },
    });
    expect(event?.accountId).toBe(env.alice.account.id);
    await env.t.db.delete(uploadSessions).where(eq(uploadSessions.accountId, env.alice.account.id));
  });

  it("a token form over 64 KiB is 413, and request headers over 16 KiB are 431", () =>
    changesNothing(async () => {
      const form = await fetch(`${url}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: `grant_type=password&username=iamapikey&password=${"x".repeat(70_000)}`,
      });
      expect(form.status).toBe(413);
      const headers = await fetch(`${url}/trpc/namespace.list`, {
        headers: { ...bearer(), "x-padding": "x".repeat(20_000) },
      });
      expect(headers.status).toBe(431);
    }));
});
