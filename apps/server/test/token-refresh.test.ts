// Over 400 lines: every way a bearer token can outlive or outreach its credential (revoked,
// expired, narrowed, another tenant's, moved) walked through /v2 and /token against one server.
import { createBerthClient } from "@berth/client";
import { apiKeys, outbox, registryTokens, uploadSessions } from "@berth/db";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import {
  ALL_ACTIONS,
  BearerTokens,
  type CreatedAccount,
  createAccount,
  createApiKey,
  hashSecret,
  type RegistryCredential,
} from "@berth/registry";
import { and, count, eq } from "drizzle-orm";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server";
import { serverOn } from "./helpers";
import { OciClient } from "./oci-client";
import { refreshByForm } from "./raw-requests";

// Bearer tokens presented to /token (a refresh: `Authorization: Bearer`, Basic `iambearer`,
// or the OAuth2 form with user iambearer). The attacker holds a token and wants more than
// it: other repositories or actions, a longer life, or life after its credential is gone.

let t: TestDatabase;
let server: RunningServer;
let url: string;
let alice: CreatedAccount;
/** The server's clock runs this far ahead of the test's. */
let offset = 0;
/** The server's signing key: the tests below sign tokens the server would never issue. */
const SECRET = "token-refresh-test-secret-0123456789abcdef";
const signer = new BearerTokens({
  service: "berth-registry-us-south",
  secret: SECRET,
  now: () => new Date(Date.now() + offset),
});

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

type Access = { type: string; name: string; actions: string[] }[];

/** GET /token with an Authorization header and scopes: status, token and its claims. */
async function tokenFor(authorization: string, scopes: string[]) {
  const query = new URLSearchParams(scopes.map((s) => ["scope", s] as [string, string]));
  const res = await fetch(`${url}/token?service=berth-registry-us-south&${query}`, {
    headers: { authorization },
  });
  const text = await res.text();
  if (res.status !== 200) return { status: res.status, text };
  const body = JSON.parse(text) as { token: string; expires_in: number };
  const claims = decodeJwt(body.token);
  return {
    status: 200,
    text,
    token: body.token,
    expiresIn: body.expires_in,
    exp: claims.exp!,
    // Entries granting nothing say nothing: compare what is granted.
    access: (claims.access as Access).filter((e) => e.actions.length > 0),
  };
}

/** POST /token, the OAuth2 form, with user iambearer. */
async function formRefresh(jwt: string, scope: string) {
  const res = await refreshByForm(url, jwt, scope, "berth-registry-us-south");
  if (res.status !== 200) return { status: res.status, access: [] as Access, exp: 0 };
  const body = (await res.json()) as { access_token: string };
  const claims = decodeJwt(body.access_token);
  return {
    status: 200,
    access: (claims.access as Access).filter((e) => e.actions.length > 0),
    exp: claims.exp!,
  };
}

/** Status of a /v2 request with a bearer token. */
async function v2(jwt: string, method: string, path: string): Promise<number> {
  const res = await new OciClient(url, `Bearer ${jwt}`).request(method, path);
  await res.arrayBuffer();
  return res.status;
}

/** Events of one action in alice's account, successes and failures. */
async function aliceEvents(action: string): Promise<number> {
  const [row] = await t.db
    .select({ n: count() })
    .from(outbox)
    .where(and(eq(outbox.accountId, alice.account.id), eq(outbox.action, action)));
  return row!.n;
}

/** Events of alice's manifest GETs, successes and failures. */
const pullEvents = () => aliceEvents("container-registry.image.pull");

const UNKNOWN_BLOB = `sha256:${"0".repeat(64)}`;

/**
 * A bearer token whose credential is gone: every read of a pull (a manifest or blob that
 * exists, an unknown repository or blob, an invalid reference, digest or range) is refused
 * as unauthenticated, and none is an attempt of the account (no event).
 */
async function expectDeadOnV2(jwt: string): Promise<void> {
  const before = await pullEvents();
  const reads: [string, string, Record<string, string>?][] = [
    ["GET", "/v2/alicens/a/manifests/v1"],
    ["GET", "/v2/alicens/nothing/manifests/v1"],
    ["GET", "/v2/alicens/a/manifests/-bad-"],
    ["HEAD", `/v2/alicens/a/blobs/${UNKNOWN_BLOB}`],
    ["GET", `/v2/alicens/nothing/blobs/${UNKNOWN_BLOB}`],
    ["GET", "/v2/alicens/a/blobs/sha256:bad"],
    ["GET", `/v2/alicens/a/blobs/${UNKNOWN_BLOB}`, { range: "bytes=5-1" }],
  ];
  for (const [method, path, headers] of reads) {
    const what = `${method} ${path} ${JSON.stringify(headers ?? {})}`;
    const res = await new OciClient(url, `Bearer ${jwt}`).request(method, path, {
      ...(headers ? { headers } : {}),
    });
    await res.arrayBuffer();
    expect(res.status, what).toBe(401);
    expect(res.headers.get("www-authenticate"), what).toContain('error="invalid_token"');
  }
  expect(await pullEvents()).toBe(before);
}

/** An upload session started with a bearer token: its path. */
async function startUploadWith(jwt: string): Promise<string> {
  const res = await new OciClient(url, `Bearer ${jwt}`).request(
    "POST",
    "/v2/alicens/a/blobs/uploads/",
  );
  await res.arrayBuffer();
  expect(res.status).toBe(202);
  return new URL(res.headers.get("location")!, url).pathname;
}

/**
 * The chunks of an upload started before the credential went (and of an upload that does
 * not exist) are refused as unauthenticated; the upload is left as it was.
 */
async function expectUploadRefused(jwt: string, upload: string): Promise<void> {
  const writes: [string, string][] = [
    ["PATCH", upload],
    ["PUT", `${upload}?digest=${UNKNOWN_BLOB}`],
    ["DELETE", upload],
    ["PATCH", "/v2/alicens/a/blobs/uploads/not-an-upload"],
  ];
  for (const [method, path] of writes) {
    const res = await new OciClient(url, `Bearer ${jwt}`).request(method, path, {
      body: "chunk",
    });
    await res.arrayBuffer();
    expect(res.status, `${method} ${path}`).toBe(401);
  }
  const [session] = await t.db
    .select({ offset: uploadSessions.offset, writer: uploadSessions.writer })
    .from(uploadSessions)
    .where(eq(uploadSessions.id, upload.split("/").pop()!));
  expect(session).toEqual({ offset: 0, writer: null });
}

/** Alice's upload sessions and image.push events (failures included). */
async function pushTraces(): Promise<[number, number]> {
  const [sessions] = await t.db
    .select({ n: count() })
    .from(uploadSessions)
    .where(eq(uploadSessions.accountId, alice.account.id));
  return [sessions!.n, await aliceEvents("container-registry.image.push")];
}

/**
 * An upload's start, whose query checks the credential itself (no lookup before it), is
 * refused as unauthenticated: no session, no event, nothing said about the namespace.
 */
async function expectStartRefused(jwt: string): Promise<void> {
  const before = await pushTraces();
  const res = await new OciClient(url, `Bearer ${jwt}`).request(
    "POST",
    "/v2/alicens/a/blobs/uploads/",
  );
  await res.arrayBuffer();
  expect(res.status).toBe(401);
  expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
  expect(res.headers.get("location")).toBeNull();
  expect(await pushTraces()).toEqual(before);
}

beforeAll(async () => {
  t = await createTestDatabase();
  server = await serverOn(t.db, {
    tokenSecret: SECRET,
    now: () => new Date(Date.now() + offset),
    // Refused refreshes are the point here, many from one address.
    authLimit: { maxFailures: 0 },
  });
  url = server.urls["us-south"]!;
  alice = await createAccount(t.db, { name: "alice" });
  const client = createBerthClient({ url, apiKey: alice.apiKey });
  await client.namespace.create.mutate({ name: "alicens" });
  const pusher = OciClient.basic(url, "iamapikey", alice.apiKey);
  await pusher.pushImage("alicens/a", "v1");
  await pusher.pushImage("alicens/b", "v1");
}, 120_000);

afterAll(async () => {
  await server?.close();
  await t?.drop();
});

beforeEach(() => {
  offset = 0;
});

const WIDER = [
  "repository:alicens/b:pull,push,delete",
  "repository:alicens/a:pull,push,delete",
  "repository:alicens/a:*",
  "registry:catalog:*",
];

describe("refreshing a bearer token", () => {
  it("never widens it: a token for alicens/a:pull gets alicens/a:pull, whatever it asks", async () => {
    const narrow = await tokenFor(basic("iamapikey", alice.apiKey), ["repository:alicens/a:pull"]);
    expect(narrow.access).toEqual([{ type: "repository", name: "alicens/a", actions: ["pull"] }]);
    const jwt = narrow.token!;
    const refreshed = [
      ["Bearer header", await tokenFor(`Bearer ${jwt}`, WIDER)],
      ["Basic iambearer", await tokenFor(basic("iambearer", jwt), WIDER)],
      ["OAuth2 form", await formRefresh(jwt, WIDER.join(" "))],
    ] as const;
    for (const [how, r] of refreshed) {
      expect(r.status, how).toBe(200);
      expect(r.access, how).toEqual([{ type: "repository", name: "alicens/a", actions: ["pull"] }]);
    }
    // And on /v2 the refreshed token does what the narrow one did, nothing more.
    const got = refreshed[0][1].token!;
    expect(await v2(got, "GET", "/v2/alicens/a/manifests/v1")).toBe(200);
    expect(await v2(got, "GET", "/v2/alicens/b/manifests/v1")).toBe(401);
    expect(await v2(got, "POST", "/v2/alicens/a/blobs/uploads/")).toBe(401);
    expect(await v2(got, "POST", "/v2/alicens/b/blobs/uploads/")).toBe(401);
    expect(await v2(got, "DELETE", "/v2/alicens/b/manifests/v1")).toBe(401);
    expect(await v2(got, "GET", "/v2/_catalog")).toBe(401);
    // A refresh of the refresh is no wider either.
    const again = await tokenFor(`Bearer ${got}`, WIDER);
    expect(again.access).toEqual([{ type: "repository", name: "alicens/a", actions: ["pull"] }]);
    // Asking for less gets less.
    const none = await tokenFor(`Bearer ${jwt}`, ["repository:alicens/b:pull"]);
    expect(none.status).toBe(200);
    expect(none.access).toEqual([]);
  });

  it("never extends it: the refreshed token expires when the presented one did", async () => {
    const first = await tokenFor(basic("iamapikey", alice.apiKey), ["repository:alicens/a:pull"]);
    expect(first.expiresIn).toBe(300);
    offset = 200_000;
    const second = await tokenFor(`Bearer ${first.token}`, ["repository:alicens/a:pull"]);
    expect(second.status).toBe(200);
    expect(second.exp).toBe(first.exp);
    expect(second.expiresIn).toBeLessThanOrEqual(100);
    offset = 250_000;
    const third = await tokenFor(basic("iambearer", second.token!), ["repository:alicens/a:pull"]);
    expect(third.exp).toBe(first.exp);
    expect(await v2(third.token!, "GET", "/v2/alicens/a/manifests/v1")).toBe(200);
    // Past the original expiry (and the 5 s of clock tolerance): every one of them is dead,
    // and none can be exchanged for a fresh one.
    offset = 306_000;
    for (const jwt of [first.token!, second.token!, third.token!]) {
      expect(await v2(jwt, "GET", "/v2/alicens/a/manifests/v1")).toBe(401);
      expect((await tokenFor(`Bearer ${jwt}`, ["repository:alicens/a:pull"])).status).toBe(401);
      expect((await tokenFor(basic("iambearer", jwt), [])).status).toBe(401);
    }
    // The API key itself still gets a new one.
    const fresh = await tokenFor(basic("iamapikey", alice.apiKey), ["repository:alicens/a:pull"]);
    expect(fresh.status).toBe(200);
  });
});

describe("a bearer token whose credential is gone", () => {
  it("API key deleted: its bearer tokens are refused at /token and on /v2", async () => {
    const key = await createApiKey(t.db, {
      accountId: alice.account.id,
      userId: alice.user.id,
      description: "to be deleted",
    });
    const issued = await tokenFor(basic("iamapikey", key), ["repository:alicens/a:pull,push"]);
    const refreshed = await tokenFor(`Bearer ${issued.token}`, ["repository:alicens/a:pull"]);
    expect(refreshed.status).toBe(200);
    expect(await v2(issued.token!, "GET", "/v2/alicens/a/manifests/v1")).toBe(200);
    expect(await v2(refreshed.token!, "GET", "/v2/alicens/a/manifests/v1")).toBe(200);
    const upload = await startUploadWith(issued.token!);
    // There is no API-key deletion in the API yet (accounts are an IAM stand-in): the
    // operator removes the row.
    await t.db.delete(apiKeys).where(eq(apiKeys.keyHash, hashSecret(key)));
    for (const jwt of [issued.token!, refreshed.token!]) {
      expect((await tokenFor(`Bearer ${jwt}`, ["repository:alicens/a:pull"])).status).toBe(401);
      expect((await tokenFor(basic("iambearer", jwt), [])).status).toBe(401);
      expect((await formRefresh(jwt, "repository:alicens/a:pull")).status).toBe(401);
      await expectDeadOnV2(jwt);
      await expectUploadRefused(jwt, upload);
      await expectStartRefused(jwt);
    }
    expect((await tokenFor(basic("iamapikey", alice.apiKey), [])).status).toBe(200);
  });

  it("registry token deleted: its bearer tokens are refused at /token and on /v2", async () => {
    const client = createBerthClient({ url, apiKey: alice.apiKey });
    const rt = await client.registrytoken.create.mutate({ access: "readwrite" });
    const issued = await tokenFor(basic("token", rt.secret), ["repository:alicens/a:pull,push"]);
    expect(issued.access).toEqual([
      { type: "repository", name: "alicens/a", actions: ["pull", "push"] },
    ]);
    expect(await v2(issued.token!, "GET", "/v2/alicens/a/manifests/v1")).toBe(200);
    const refreshed = await tokenFor(basic("iambearer", issued.token!), [
      "repository:alicens/a:pull",
    ]);
    expect(refreshed.status).toBe(200);
    await client.registrytoken.delete.mutate({ id: rt.id });
    for (const jwt of [issued.token!, refreshed.token!]) {
      expect((await tokenFor(`Bearer ${jwt}`, ["repository:alicens/a:pull"])).status).toBe(401);
      expect((await tokenFor(basic("iambearer", jwt), [])).status).toBe(401);
      await expectDeadOnV2(jwt);
      await expectStartRefused(jwt);
    }
  });

  it("registry token expiring: its bearer tokens end with it, however refreshed", async () => {
    const client = createBerthClient({ url, apiKey: alice.apiKey });
    const rt = await client.registrytoken.create.mutate({ access: "read" });
    // The token has one minute left (of the server's clock).
    await t.db
      .update(registryTokens)
      .set({ expiresAt: new Date(Date.now() + offset + 60_000) })
      .where(eq(registryTokens.id, rt.id));
    const issued = await tokenFor(basic("token", rt.secret), ["repository:alicens/a:pull"]);
    expect(issued.status).toBe(200);
    expect(issued.expiresIn).toBeLessThanOrEqual(60);
    offset = 30_000;
    const refreshed = await tokenFor(`Bearer ${issued.token}`, ["repository:alicens/a:pull"]);
    expect(refreshed.exp).toBeLessThanOrEqual(issued.exp!);
    expect(await v2(refreshed.token!, "GET", "/v2/alicens/a/manifests/v1")).toBe(200);
    offset = 61_000;
    for (const jwt of [issued.token!, refreshed.token!]) {
      expect(await v2(jwt, "GET", "/v2/alicens/a/manifests/v1")).toBe(401);
      expect((await tokenFor(`Bearer ${jwt}`, ["repository:alicens/a:pull"])).status).toBe(401);
    }
  });
});

/**
 * Every way a /v2 request checks a bearer token's credential: the reads of a pull fold it
 * into their query; HEAD, the tags list, an upload's start and /token look it up first.
 */
async function expectRefusedEverywhere(jwt: string, what: string): Promise<void> {
  const requests: [string, string][] = [
    ["GET", "/v2/alicens/a/manifests/v1"],
    ["HEAD", "/v2/alicens/a/manifests/v1"],
    ["GET", "/v2/alicens/a/tags/list"],
    ["POST", "/v2/alicens/a/blobs/uploads/"],
  ];
  for (const [method, path] of requests) {
    expect(await v2(jwt, method, path), `${what}: ${method} ${path}`).toBe(401);
  }
  expect((await tokenFor(`Bearer ${jwt}`, ["repository:alicens/a:pull"])).status, what).toBe(401);
}

describe("a bearer token naming a credential that is not its principal's", () => {
  // Signed with the server's key, as only a flaw in issuing (or a leaked key) could make
  // them: the credential check alone must refuse them.
  const aliceAs = (source: RegistryCredential["source"], userId = alice.user.id) =>
    signer.issue(
      {
        principal: {
          account: alice.account,
          user: { id: userId, name: alice.user.name, kind: "user" },
          credentialType: "apikey",
        },
        source,
        allowed: ALL_ACTIONS,
      },
      [{ type: "repository", name: "alicens/a", actions: ["pull", "push"] }],
    );
  const keyId = async (apiKey: string) =>
    (
      await t.db
        .select({ id: apiKeys.id })
        .from(apiKeys)
        .where(eq(apiKeys.keyHash, hashSecret(apiKey)))
    )[0]!.id;

  it("is honoured with alice's own API key (the forgery works when nothing is wrong)", async () => {
    const own = await aliceAs({ kind: "apikey", id: await keyId(alice.apiKey) });
    expect(await v2(own.token, "GET", "/v2/alicens/a/manifests/v1")).toBe(200);
    expect(await v2(own.token, "HEAD", "/v2/alicens/a/manifests/v1")).toBe(200);
  });

  it("is refused with another tenant's API key or registry token", async () => {
    const bob = await createAccount(t.db, { name: "bob-forged" });
    const bobKey = await aliceAs({ kind: "apikey", id: await keyId(bob.apiKey) });
    await expectRefusedEverywhere(bobKey.token, "bob's API key");
    const bobClient = createBerthClient({ url, apiKey: bob.apiKey });
    const rt = await bobClient.registrytoken.create.mutate({ access: "readwrite" });
    const bobToken = await aliceAs({ kind: "registrytoken", id: rt.id });
    await expectRefusedEverywhere(bobToken.token, "bob's registry token");
  });

  it("is refused with alice's API key under another user of her account", async () => {
    const other = await aliceAs({ kind: "apikey", id: await keyId(alice.apiKey) }, "user-other");
    await expectRefusedEverywhere(other.token, "another user");
  });

  it("is refused once its registry token expired or moved region, before the JWT does", async () => {
    const client = createBerthClient({ url, apiKey: alice.apiKey });
    for (const change of [
      { expiresAt: new Date(Date.now() + offset - 1000) },
      { region: "eu-de" },
    ]) {
      const rt = await client.registrytoken.create.mutate({ access: "readwrite" });
      const issued = await tokenFor(basic("token", rt.secret), ["repository:alicens/a:pull,push"]);
      expect(await v2(issued.token!, "HEAD", "/v2/alicens/a/manifests/v1")).toBe(200);
      await t.db.update(registryTokens).set(change).where(eq(registryTokens.id, rt.id));
      await expectRefusedEverywhere(issued.token!, JSON.stringify(change));
    }
  });
});
