import { decodeJwt } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { forFile, rid, serverOn } from "./helpers";
import { expectError, json, OciClient } from "./oci-client";
import { startOciEnv } from "./oci-helpers";

const env = await forFile(startOciEnv());
let readOnly: string;
let readWrite: string;

const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;

beforeAll(async () => {
  await env.namespace(env.alice, "alicens");
  readOnly = await env.registryToken(env.alice, "read");
  readWrite = await env.registryToken(env.alice, "readwrite");
  await OciClient.basic(env.url(), "iamapikey", env.alice.apiKey).pushImage("alicens/app", "v1");
});

async function token(user: string, password: string, scopes: string[]) {
  const query = new URLSearchParams([
    ["service", "berth-registry-us-south"],
    ...scopes.map((s) => ["scope", s] as [string, string]),
  ]);
  return fetch(`${env.url()}/token?${query}`, {
    headers: { authorization: basic(user, password) },
  });
}

describe("token endpoint", () => {
  it("issues a short-lived JWT listing the granted repository actions (GET with Basic)", async () => {
    const r = await token("iamapikey", env.alice.apiKey, [
      "repository:alicens/app:pull,push",
      "repository:alicens/other:delete",
      "repository:Bad/Name:pull",
      "registry:catalog:*",
      "nonsense",
    ]);
    expect(r.status).toBe(200);
    expect(r.headers.get("cache-control")).toBe("no-store");
    const body = await json<{
      token: string;
      access_token: string;
      expires_in: number;
      issued_at: string;
    }>(r);
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(300);
    const claims = decodeJwt(body.token);
    expect(claims.aud).toBe("berth-registry-us-south");
    expect(claims.iss).toBe("berth");
    expect(claims.sub).toBe(env.alice.user.id);
    expect(claims.exp! - claims.iat!).toBe(300);
    expect(claims.access).toEqual([
      { type: "repository", name: "alicens/app", actions: ["pull", "push"] },
      { type: "repository", name: "alicens/other", actions: ["delete"] },
      { type: "registry", name: "catalog", actions: ["*"] },
    ]);
  });

  it("grants a read-only registry token pull only", async () => {
    const r = await token("token", readOnly, ["repository:alicens/app:pull,push,delete"]);
    const claims = decodeJwt((await json<{ token: string }>(r)).token);
    expect(claims.access).toEqual([{ type: "repository", name: "alicens/app", actions: ["pull"] }]);
  });

  it("refuses missing and wrong credentials with 401, counted but not audited", async () => {
    const before = (await env.allEvents()).length;
    const metric = async () => {
      const text = await (await fetch(`${env.url()}/metrics`)).text();
      const m =
        /berth_unauthenticated_requests_total\{region="us-south",reason="invalid"\} (\d+)/.exec(
          text,
        );
      return Number(m?.[1] ?? 0);
    };
    const invalidBefore = await metric();
    const anon = await fetch(`${env.url()}/token?scope=repository:alicens/app:pull`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get("www-authenticate")).toBe('Basic realm="Berth registry"');
    for (const [user, password] of [
      ["iamapikey", "berth_ak_wrong-wrong-wrong-wrong"],
      ["token", "berth_rt_wrong"],
      ["iambearer", "not.a.jwt"],
      ["someone", env.alice.apiKey],
    ] as const) {
      expect((await token(user, password, [])).status, user).toBe(401);
    }
    expect(await metric()).toBe(invalidBefore + 4);
    expect((await env.allEvents()).length).toBe(before);
    expect(env.logs.some((l) => l.includes(env.alice.apiKey))).toBe(false);
  });

  it("serves OAuth2 clients with POST (grant_type=password), without refresh tokens", async () => {
    const form = (fields: Record<string, string>) =>
      fetch(`${env.url()}/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams(fields).toString(),
      });
    const r = await form({
      grant_type: "password",
      username: "iamapikey",
      password: env.alice.apiKey,
      service: "berth-registry-us-south",
      client_id: "berth-test",
      scope: "repository:alicens/app:pull repository:alicens/new:pull,push",
    });
    expect(r.status).toBe(200);
    const body = await json<{
      access_token: string;
      token_type: string;
      scope: string;
      expires_in: number;
    }>(r);
    expect(body.token_type).toBe("Bearer");
    expect(body.scope).toBe("repository:alicens/app:pull repository:alicens/new:pull,push");
    const client = new OciClient(env.url(), `Bearer ${body.access_token}`);
    expect((await client.request("GET", "/v2/alicens/app/manifests/v1")).status).toBe(200);
    const bad = await form({
      grant_type: "password",
      username: "iamapikey",
      password: "nope-nope-nope-nope-nope",
    });
    expect(bad.status).toBe(401);
    expect((await json<{ error: string }>(bad)).error).toBe("invalid_grant");
    const refresh = await form({ grant_type: "refresh_token", refresh_token: "x" });
    expect(refresh.status).toBe(400);
    expect((await json<{ error: string }>(refresh)).error).toBe("unsupported_grant_type");
  });
});

describe("bearer tokens on /v2", () => {
  it("allows what the token grants and challenges for what it does not (insufficient_scope)", async () => {
    const pullOnly = await OciClient.bearer(env.url(), "iamapikey", env.alice.apiKey, [
      "repository:alicens/app:pull",
    ]);
    expect((await pullOnly.request("GET", "/v2/alicens/app/manifests/v1")).status).toBe(200);
    expect((await pullOnly.request("GET", "/v2/alicens/app/tags/list")).status).toBe(200);
    const id = rid("scope");
    const push = await pullOnly.withRequestId(id).request("POST", "/v2/alicens/app/blobs/uploads/");
    expect(push.headers.get("www-authenticate")).toBe(
      `Bearer realm="http://${env.host}/token",service="berth-registry-us-south",scope="repository:alicens/app:pull,push",error="insufficient_scope"`,
    );
    await expectError(push, 401, "UNAUTHORIZED");
    // Asking for too little is a protocol step, not a refused attempt: no event.
    expect(await env.events(id)).toHaveLength(0);
    const elsewhere = await pullOnly.request("GET", "/v2/alicens/other/tags/list");
    expect(elsewhere.status).toBe(401);
    const catalog = await pullOnly.request("GET", "/v2/_catalog");
    expect(catalog.headers.get("www-authenticate")).toContain('scope="registry:catalog:*"');
  });

  it("refuses a push of a read-only token's bearer token with DENIED and a failure event", async () => {
    const client = await OciClient.bearer(env.url(), "token", readOnly, [
      "repository:alicens/app:pull,push",
    ]);
    expect((await client.request("GET", "/v2/alicens/app/manifests/v1")).status).toBe(200);
    const id = rid("ropush");
    await expectError(
      await client.withRequestId(id).request("POST", "/v2/alicens/app/blobs/uploads/"),
      403,
      "DENIED",
    );
    const putId = rid("roput");
    await expectError(
      await client.withRequestId(putId).putManifest("alicens/app", "v2", "{}"),
      403,
      "DENIED",
    );
    for (const requestId of [id, putId]) {
      const events = await env.events(requestId);
      expect(events).toHaveLength(1);
      expect(events[0]!.event.action).toBe("container-registry.image.push");
      expect(events[0]!.event.outcome).toBe("failure");
      expect(events[0]!.event.initiator.credential.type).toBe("token");
    }
    expect((await env.events(putId))[0]!.event.target.name).toBe("alicens/app:v2");
    const delId = rid("rodelete");
    const del = await OciClient.basic(env.url(), "token", readOnly)
      .withRequestId(delId)
      .request("DELETE", `/v2/alicens/app/manifests/sha256:${"0".repeat(64)}`);
    await expectError(del, 403, "DENIED");
    expect((await env.events(delId))[0]!.event.action).toBe("container-registry.image.delete");
  });

  it("lets a read-write registry token push, directly with Basic", async () => {
    const client = OciClient.basic(env.url(), "token", readWrite);
    const id = rid("rwpush");
    await client.withRequestId(id).pushImage("alicens/rw", "v1");
    const [event] = await env.events(id);
    expect(event?.event.outcome).toBe("success");
    expect(event?.event.initiator.credential.type).toBe("token");
  });

  it("accepts a bearer token as the password of user iambearer", async () => {
    const r = await token("iamapikey", env.alice.apiKey, ["repository:alicens/app:pull"]);
    const jwt = (await json<{ token: string }>(r)).token;
    const client = OciClient.basic(env.url(), "iambearer", jwt);
    expect((await client.request("GET", "/v2/alicens/app/manifests/v1")).status).toBe(200);
    const pushed = await client.request("POST", "/v2/alicens/app/blobs/uploads/");
    expect(pushed.status).toBe(401);
  });

  it("refuses tampered, foreign and expired bearer tokens with invalid_token", async () => {
    const r = await token("iamapikey", env.alice.apiKey, ["repository:alicens/app:pull"]);
    const jwt = (await json<{ token: string }>(r)).token;
    const [header, , signature] = jwt.split(".");
    const forged = Buffer.from(
      JSON.stringify({
        ...decodeJwt(jwt),
        access: [{ type: "repository", name: "alicens/app", actions: ["pull", "push", "delete"] }],
      }),
    ).toString("base64url");
    for (const bad of [`${header}.${forged}.${signature}`, "garbage", `${jwt}x`]) {
      const res = await new OciClient(env.url(), `Bearer ${bad}`).request(
        "GET",
        "/v2/alicens/app/manifests/v1",
      );
      expect(res.status).toBe(401);
      expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    }
    // A token of another server (another key) is no good here.
    const other = await serverOn(env.t.db, {
      store: env.store,
    });
    try {
      const r2 = await fetch(`${other.urls["us-south"]}/token?scope=repository:alicens/app:pull`, {
        headers: { authorization: basic("iamapikey", env.alice.apiKey) },
      });
      const foreign = (await json<{ token: string }>(r2)).token;
      const res = await new OciClient(env.url(), `Bearer ${foreign}`).request(
        "GET",
        "/v2/alicens/app/manifests/v1",
      );
      expect(res.status).toBe(401);
    } finally {
      await other.close();
    }
    // A token is good for five minutes of the server's clock.
    let offset = 0;
    const clocked = await serverOn(env.t.db, {
      store: env.store,
      now: () => new Date(Date.now() + offset),
    });
    try {
      const base = clocked.urls["us-south"]!;
      const issued = await fetch(`${base}/token?scope=repository:alicens/app:pull`, {
        headers: { authorization: basic("iamapikey", env.alice.apiKey) },
      });
      const short = new OciClient(base, `Bearer ${(await json<{ token: string }>(issued)).token}`);
      expect((await short.request("GET", "/v2/alicens/app/manifests/v1")).status).toBe(200);
      offset = 4 * 60_000;
      expect((await short.request("GET", "/v2/alicens/app/manifests/v1")).status).toBe(200);
      offset = 6 * 60_000;
      const expired = await short.request("GET", "/v2/alicens/app/manifests/v1");
      expect(expired.status).toBe(401);
      expect(expired.headers.get("www-authenticate")).toContain('error="invalid_token"');
    } finally {
      await clocked.close();
    }
  });
});
