import { randomBytes } from "node:crypto";
import { repositoryBlobs } from "@berth/db";
import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { eventCount } from "./expect-events";
import { forFile, rid } from "./helpers";
import { OciClient } from "./oci-client";
import { startOciEnv } from "./oci-helpers";

// The isolation matrix's mount row: a cross-repository mount of a digest that account A
// holds in alicens/a, tried by every credential that should not get it (B's API key, B's
// read-write registry token, B's bearer token for its own repository, and A's own bearer
// token limited to another repository), with and without `from`. Each answer is a plain
// upload session (202), the blob is never linked where the caller asked, A's links and
// events do not change, and nothing the caller is told depends on A having the digest.

const env = await forFile(startOciEnv());
let digest: string;

beforeAll(async () => {
  await env.namespace(env.alice, "alicens");
  await env.namespace(env.bob, "bobns");
  const alice = OciClient.basic(env.url(), "iamapikey", env.alice.apiKey);
  digest = await alice.pushBlob("alicens/a", randomBytes(4000));
}, 120_000);

const links = async () =>
  (
    await env.t.db
      .select({ n: sql<number>`count(*)::int` })
      .from(repositoryBlobs)
      .where(eq(repositoryBlobs.digest, digest))
  )[0]!.n;

const aliceEvents = () => eventCount(env.t.db, env.alice.account.id);

type Caller = { name: string; client: () => Promise<OciClient>; into: string };

const callers: Caller[] = [
  {
    name: "B's API key",
    client: async () => OciClient.basic(env.url(), "iamapikey", env.bob.apiKey),
    into: "bobns/loot",
  },
  {
    name: "B's read-write registry token",
    client: async () =>
      OciClient.basic(env.url(), "token", await env.registryToken(env.bob, "readwrite")),
    into: "bobns/loot",
  },
  {
    name: "B's bearer token for its own repository",
    client: () =>
      OciClient.bearer(env.url(), "iamapikey", env.bob.apiKey, [
        "repository:bobns/loot:pull,push",
        "repository:alicens/a:pull",
      ]),
    into: "bobns/loot",
  },
  {
    name: "A's bearer token for another repository of A's",
    client: () =>
      OciClient.bearer(env.url(), "iamapikey", env.alice.apiKey, [
        "repository:alicens/b:pull,push",
      ]),
    into: "alicens/b",
  },
];

describe("isolation matrix: cross-repository mount", () => {
  it.each(callers)("$name cannot mount A's blob, with or without from", async (caller) => {
    const client = await caller.client();
    const before = { links: await links(), events: await aliceEvents() };
    for (const query of [`mount=${digest}&from=alicens/a`, `mount=${digest}`]) {
      const id = rid("mount");
      const r = await client
        .withRequestId(id)
        .request("POST", `/v2/${caller.into}/blobs/uploads/?${query}`);
      expect(r.status, `${caller.name}: POST ?${query}`).toBe(202);
      expect(r.headers.get("docker-upload-uuid"), `${caller.name}: ?${query}`).toBeTruthy();
      // An unknown digest gets the very same answer: the caller learns nothing.
      const unknown = await client.request(
        "POST",
        `/v2/${caller.into}/blobs/uploads/?${query.replace(digest, `sha256:${"0".repeat(64)}`)}`,
      );
      expect(unknown.status).toBe(202);
      // Whatever events the attempt wrote are the caller's own.
      for (const { accountId } of await env.events(id)) {
        expect(accountId, `${caller.name}: event account`).toBe(
          caller.into.startsWith("alicens") ? env.alice.account.id : env.bob.account.id,
        );
      }
    }
    const reader = caller.into.startsWith("alicens")
      ? OciClient.basic(env.url(), "iamapikey", env.alice.apiKey)
      : OciClient.basic(env.url(), "iamapikey", env.bob.apiKey);
    const head = await reader.request("HEAD", `/v2/${caller.into}/blobs/${digest}`);
    expect(head.status, `${caller.name}: A's blob in ${caller.into}`).toBe(404);
    expect(await links(), `${caller.name}: links of A's digest`).toBe(before.links);
    if (!caller.into.startsWith("alicens")) {
      expect(await aliceEvents(), `${caller.name}: A's events`).toBe(before.events);
    }
    // A's blob is where it was.
    const alice = OciClient.basic(env.url(), "iamapikey", env.alice.apiKey);
    expect((await alice.request("HEAD", `/v2/alicens/a/blobs/${digest}`)).status).toBe(200);
  });
});
