import { createBerthClient } from "@berth/client";
import { apiKeys } from "@berth/db";
import { stateFingerprint } from "@berth/db/testing";
import { basic, trpc } from "@berth/harness";
import { createApiKey, hashSecret } from "@berth/registry";
import { eq } from "drizzle-orm";
import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { eventCount, requestEvents } from "./expect-events";
import { forFile, pushNewImage, rid, startTestServer } from "./helpers";
import { refreshByForm } from "./raw-requests";

// The isolation matrix, for bearer tokens presented to /token (a refresh). Account B holds
// bearer tokens made from each kind of its credentials, and exchanges each one, each way a
// client can present it (Bearer header, Basic iambearer, the OAuth2 form), for: A's
// repository, the catalog, another repository of its own, more actions on its own. The new
// token never lists more than the presented one, and A's repository stays out of reach.
// Once B's credential is deleted (API key, registry token) or the token is presented in
// another region, every exchange and every use is refused.

const env = await forFile(
  startTestServer({
    regions: [
      { region: "us-south", port: 0 },
      { region: "ap-north", port: 0 },
    ],
    // Hundreds of refusals from one address, on purpose.
    authLimit: { maxFailures: 0 },
  }),
);
const { t, alice, bob } = env;
const url = env.url("us-south");
const apNorth = env.url("ap-north");
const { image: aliceImage, layer: aliceLayer } = await pushNewImage(
  url,
  alice.apiKey,
  "alicens/app",
  2048,
);
let bobKey: string;
let bobTokenIds: { ro: string; rw: string };
/** B's bearer tokens, by the credential they were made from, with what each was granted. */
const bearers: Record<string, { jwt: string; granted: string[] }> = {};

type Access = { type: string; name: string; actions: string[] }[];

const aliceEventCount = () => eventCount(t.db, alice.account.id);

const eventsOf = (requestId: string) => requestEvents(t.db, requestId);

/** A token from /token for `scopes`, the Docker way (GET with an Authorization header). */
async function getToken(base: string, authorization: string, scopes: string[]) {
  const query = new URLSearchParams(scopes.map((s) => ["scope", s] as [string, string]));
  const res = await fetch(`${base}/token?${query}`, { headers: { authorization } });
  if (res.status !== 200) return { status: res.status, jwt: "" };
  return { status: 200, jwt: ((await res.json()) as { token: string }).token };
}

/** The three ways a client presents a bearer token to /token. */
const REFRESH: Record<
  string,
  (base: string, jwt: string, scopes: string[]) => Promise<{ status: number; jwt: string }>
> = {
  "Bearer header": (base, jwt, scopes) => getToken(base, `Bearer ${jwt}`, scopes),
  "Basic iambearer": (base, jwt, scopes) => getToken(base, basic("iambearer", jwt), scopes),
  "OAuth2 form": async (base, jwt, scopes) => {
    const res = await refreshByForm(base, jwt, scopes.join(" "));
    if (res.status !== 200) return { status: res.status, jwt: "" };
    return { status: 200, jwt: ((await res.json()) as { access_token: string }).access_token };
  },
};

/** What a token grants, as `name:action` strings (entries granting nothing left out). */
function grants(jwt: string): string[] {
  return (decodeJwt(jwt).access as Access).flatMap((e) => e.actions.map((a) => `${e.name}:${a}`));
}

beforeAll(async () => {
  await pushNewImage(url, bob.apiKey, "bobns/tool", 1024);
  // B's credentials: a second API key (the one to be deleted), a read-only and a read-write
  // registry token.
  bobKey = await createApiKey(t.db, { accountId: bob.account.id, userId: bob.user.id });
  const bobClient = createBerthClient({ url, apiKey: bob.apiKey });
  const registryToken = (access: "read" | "readwrite") =>
    bobClient.registrytoken.create.mutate({ access });
  const ro = await registryToken("read");
  const rw = await registryToken("readwrite");
  bobTokenIds = { ro: ro.id, rw: rw.id };
  const make = async (name: string, auth: string, scope: string) => {
    const got = await getToken(url, auth, [scope]);
    expect(got.status, name).toBe(200);
    bearers[name] = { jwt: got.jwt, granted: grants(got.jwt) };
  };
  await make("API key, pull", basic("iamapikey", bobKey), "repository:bobns/tool:pull");
  await make("API key, push", basic("iamapikey", bobKey), "repository:bobns/tool:pull,push");
  await make("read-only token", basic("token", ro.secret), "repository:bobns/tool:pull,push");
  await make("read-write token", basic("token", rw.secret), "repository:bobns/tool:pull,push");
  const refreshed = await getToken(url, `Bearer ${bearers["API key, pull"]!.jwt}`, [
    "repository:bobns/tool:pull",
  ]);
  bearers["refreshed bearer"] = { jwt: refreshed.jwt, granted: grants(refreshed.jwt) };
  expect(bearers["read-only token"]!.granted).toEqual(["bobns/tool:pull"]);
}, 180_000);

/** What B asks for in exchange for its token. */
const ASKS: Record<string, string[]> = {
  "A's repository": [
    "repository:alicens/app:pull,push,delete",
    "repository:alicens/app:*",
    "repository:alicens/new:push",
  ],
  "the catalog": ["registry:catalog:*"],
  "another repository of B's": ["repository:bobns/other:pull,push,delete"],
  "every action on its own": ["repository:bobns/tool:*", "repository:bobns/tool:delete"],
};

/** A's repository, through every /v2 endpoint; all must be refused. */
const aEndpoints = (): [string, string][] => [
  ["GET", "/v2/alicens/app/manifests/1"],
  ["GET", `/v2/alicens/app/blobs/${aliceLayer}`],
  ["HEAD", "/v2/alicens/app/manifests/1"],
  ["GET", "/v2/alicens/app/tags/list"],
  ["POST", "/v2/alicens/app/blobs/uploads/"],
  ["PUT", "/v2/alicens/app/manifests/evil"],
  ["DELETE", "/v2/alicens/app/manifests/1"],
];

describe("isolation matrix: bearer token refresh", () => {
  it("every exchange, by every kind of B's bearer token, grants no more than the token held", async () => {
    const before = await stateFingerprint(t.sql);
    const aliceEvents = await aliceEventCount();
    for (const [kind, { jwt, granted }] of Object.entries(bearers)) {
      for (const [how, refresh] of Object.entries(REFRESH)) {
        for (const [what, scopes] of Object.entries(ASKS)) {
          const label = `${kind}, ${how}, asking for ${what}`;
          const got = await refresh(url, jwt, scopes);
          expect(got.status, label).toBe(200);
          const now = grants(got.jwt);
          for (const g of now) expect(granted, `${label}: got ${g}`).toContain(g);
          expect(
            now.filter((g) => g.startsWith("alicens/")),
            label,
          ).toEqual([]);
          // The exchanged token against A's repository: refused, nothing audited as A's.
          if (what === "A's repository") {
            for (const [method, path] of aEndpoints()) {
              const requestId = rid("bob");
              const res = await fetch(`${url}${path}`, {
                method,
                headers: {
                  authorization: `Bearer ${got.jwt}`,
                  "x-request-id": requestId,
                  "content-type": "application/vnd.oci.image.manifest.v1+json",
                },
                ...(method === "PUT" ? { body: aliceImage.manifest } : {}),
              });
              await res.arrayBuffer();
              expect([401, 403, 404], `${label}: ${method} ${path}`).toContain(res.status);
              for (const e of await eventsOf(requestId)) {
                expect(e.accountId, `${label}: ${method} ${path}`).toBe(bob.account.id);
              }
            }
          }
        }
      }
    }
    // B's own token still pulls B's image: the refusals are about A, not a broken token.
    const ok = await fetch(`${url}/v2/bobns/tool/manifests/1`, {
      headers: { authorization: `Bearer ${bearers["API key, pull"]!.jwt}` },
    });
    expect(ok.status).toBe(200);
    expect(await stateFingerprint(t.sql)).toEqual(before);
    expect(await aliceEventCount()).toBe(aliceEvents);
  });

  it("a bearer token is refused in another region, at /token and on /v2", async () => {
    for (const [kind, { jwt }] of Object.entries(bearers)) {
      for (const [how, refresh] of Object.entries(REFRESH)) {
        const got = await refresh(apNorth, jwt, ["repository:bobns/tool:pull"]);
        expect(got.status, `${kind}, ${how}, at ap-north`).toBe(401);
      }
      const res = await fetch(`${apNorth}/v2/bobns/tool/manifests/1`, {
        headers: { authorization: `Bearer ${jwt}` },
      });
      expect(res.status, `${kind} on ap-north /v2`).toBe(401);
    }
  });

  it("once B's credentials are deleted, none of their bearer tokens is exchanged or used", async () => {
    const aliceEvents = await aliceEventCount();
    await trpc(url, bob.apiKey, "registrytoken.delete", { id: bobTokenIds.ro }, rid());
    await trpc(url, bob.apiKey, "registrytoken.delete", { id: bobTokenIds.rw }, rid());
    await t.db.delete(apiKeys).where(eq(apiKeys.keyHash, hashSecret(bobKey)));
    for (const [kind, { jwt }] of Object.entries(bearers)) {
      for (const [how, refresh] of Object.entries(REFRESH)) {
        for (const [what, scopes] of Object.entries(ASKS)) {
          const got = await refresh(url, jwt, scopes);
          expect(got.status, `${kind} after deletion, ${how}, asking for ${what}`).toBe(401);
        }
      }
      for (const [method, path] of [
        ["GET", "/v2/bobns/tool/manifests/1"],
        ["POST", "/v2/bobns/tool/blobs/uploads/"],
        ...aEndpoints(),
      ] as [string, string][]) {
        const res = await fetch(`${url}${path}`, {
          method,
          headers: { authorization: `Bearer ${jwt}` },
        });
        await res.arrayBuffer();
        expect(res.status, `${kind} after deletion: ${method} ${path}`).toBe(401);
      }
    }
    // B's first API key, untouched, still works: only the deleted credentials died.
    expect(
      (await getToken(url, basic("iamapikey", bob.apiKey), ["repository:bobns/tool:pull"])).status,
    ).toBe(200);
    expect(await aliceEventCount()).toBe(aliceEvents);
  });
});
