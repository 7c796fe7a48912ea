import { registryTokens } from "@berth/db";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authenticate, authenticateBasic, parseAuthorization } from "../src/auth/authenticate";
import { BearerTokens } from "../src/auth/bearer";
import { missing, permits, permitsCatalog, type RegistryCredential } from "../src/auth/credential";
import { formatScope, grantAccess, parseScope, parseScopes } from "../src/auth/scope";
import { createRegistryToken } from "../src/registry-tokens/create";
import { type Env, setup } from "./helpers";

/** An API key's credential: every action on every repository of its account. */
const principal = {
  account: { id: "acc1", name: "Acme" },
  user: { id: "user-1", name: "ann@example.com", kind: "user" as const },
  credentialType: "apikey" as const,
};
const source = { kind: "apikey" as const, id: "0190a000-0000-7000-8000-000000000001" };
const cred: RegistryCredential = { principal, source, allowed: ["pull", "push", "delete"] };

describe("scopes", () => {
  it("parses Docker token scopes and drops malformed ones", () => {
    expect(parseScope("repository:team/app:pull,push")).toEqual({
      type: "repository",
      name: "team/app",
      actions: ["pull", "push"],
    });
    expect(parseScope("repository(plugin):team/app:pull")?.type).toBe("repository");
    expect(parseScope("registry:catalog:*")).toEqual({
      type: "registry",
      name: "catalog",
      actions: ["*"],
    });
    for (const bad of ["", "repository", "repository:team/app", "repository::pull", "other:x:y"]) {
      expect(parseScope(bad), bad).toBeNull();
    }
    expect(parseScopes(["repository:a/b:pull repository:c/d:push", "bad"])).toHaveLength(2);
    expect(formatScope({ type: "repository", name: "a/b", actions: ["pull"] })).toBe(
      "repository:a/b:pull",
    );
  });

  it("grants the requested actions the credential allows, on valid names only", () => {
    const requested = parseScopes([
      "repository:team/app:pull,push,delete,bogus",
      "repository:team/app:pull",
      "repository:team/all:*",
      "repository:BAD:pull",
      "registry:catalog:*",
    ]);
    expect(grantAccess(requested, ["pull"])).toEqual([
      { type: "repository", name: "team/app", actions: ["pull"] },
      { type: "repository", name: "team/all", actions: ["pull"] },
      { type: "registry", name: "catalog", actions: ["*"] },
    ]);
    expect(grantAccess(requested, ["pull", "push", "delete"])[1]).toEqual({
      type: "repository",
      name: "team/all",
      actions: ["pull", "push", "delete"],
    });
  });

  it("checks a credential's access per repository and action", () => {
    expect(permits(cred, "team/any", "delete")).toBe(true);
    expect(permitsCatalog(cred)).toBe(true);
    const bearer: RegistryCredential = {
      ...cred,
      allowed: ["pull"],
      access: [{ type: "repository", name: "team/app", actions: ["pull"] }],
    };
    expect(permits(bearer, "team/app", "pull")).toBe(true);
    expect(permits(bearer, "team/other", "pull")).toBe(false);
    expect(permits(bearer, "team/app", "push")).toBe(false);
    expect(missing(bearer, "push")).toBe("denied");
    expect(missing({ ...bearer, allowed: ["pull", "push"] }, "push")).toBe("scope");
    expect(permitsCatalog(bearer)).toBe(false);
  });
});

describe("bearer tokens", () => {
  it("round-trips the principal and the granted access", async () => {
    const tokens = new BearerTokens({ service: "svc" });
    const issued = await tokens.issue(cred, parseScopes(["repository:team/app:pull"]));
    expect(issued.expiresIn).toBe(300);
    expect(await tokens.verify(issued.token)).toEqual({
      principal,
      source,
      expiresAt: new Date((Math.floor(issued.issuedAt.getTime() / 1000) + 300) * 1000),
      allowed: ["pull", "push", "delete"],
      access: [{ type: "repository", name: "team/app", actions: ["pull"] }],
    });
  });

  it("refuses tokens of another service or key, expired, tampered or malformed", async () => {
    let now = new Date("2026-01-01T00:00:00Z");
    const secret = "s".repeat(32);
    const tokens = new BearerTokens({ service: "svc", secret, now: () => now });
    const { token } = await tokens.issue(cred, []);
    expect(await new BearerTokens({ service: "other", secret }).verify(token)).toBeNull();
    expect(await new BearerTokens({ service: "svc" }).verify(token)).toBeNull();
    expect(await tokens.verify(`${token.slice(0, -2)}xx`)).toBeNull();
    expect(await tokens.verify("a.b.c")).toBeNull();
    expect(await tokens.verify("")).toBeNull();
    now = new Date(now.getTime() + 299_000);
    expect(await tokens.verify(token)).not.toBeNull();
    now = new Date(now.getTime() + 10_000);
    expect(await tokens.verify(token)).toBeNull();
    expect(() => new BearerTokens({ service: "svc", secret: "short" })).toThrow(/32 bytes/);
  });
});

describe("Basic credentials of registry clients", () => {
  let env: Env;
  let tokens: BearerTokens;
  beforeAll(async () => {
    env = await setup();
    tokens = new BearerTokens({ service: "svc" });
  });
  afterAll(async () => env?.drop());
  const deps = () => ({ db: env.t.db, region: "us-south", tokens });

  it("parses Authorization headers", () => {
    const b64 = (s: string) => Buffer.from(s).toString("base64");
    expect(parseAuthorization(`Basic ${b64("iamapikey:k:with:colons")}`)).toEqual({
      scheme: "basic",
      username: "iamapikey",
      password: "k:with:colons",
    });
    expect(parseAuthorization("bearer abc")).toEqual({ scheme: "bearer", token: "abc" });
    for (const bad of [
      undefined,
      "",
      "Basic",
      `Basic ${b64("nocolon")}`,
      "Digest x",
      "Bearer a b",
    ]) {
      expect(parseAuthorization(bad), String(bad)).toBeNull();
    }
  });

  it("takes an API key as iamapikey with every action", async () => {
    const cred = await authenticateBasic(deps(), "iamapikey", env.alice.apiKey);
    expect(cred?.principal.account.id).toBe(env.alice.account.id);
    expect(cred?.principal.credentialType).toBe("apikey");
    expect(cred?.allowed).toEqual(["pull", "push", "delete"]);
    expect(await authenticateBasic(deps(), "iamapikey", "berth_ak_nope")).toBeNull();
    expect(await authenticateBasic(deps(), "admin", env.alice.apiKey)).toBeNull();
    expect(await authenticateBasic(deps(), "iamapikey", "")).toBeNull();
  });

  it("takes registry tokens as user token: read-only pulls, expired and other regions refused", async () => {
    const ro = await createRegistryToken(env.ctx(env.alice), {});
    const rw = await createRegistryToken(env.ctx(env.alice), { access: "readwrite" });
    const roCred = await authenticateBasic(deps(), "token", ro.secret);
    expect(roCred?.allowed).toEqual(["pull"]);
    expect(roCred?.principal.credentialType).toBe("token");
    expect((await authenticateBasic(deps(), "token", rw.secret))?.allowed).toEqual([
      "pull",
      "push",
      "delete",
    ]);
    expect(
      await authenticateBasic({ ...deps(), region: "eu-central" }, "token", ro.secret),
    ).toBeNull();
    expect(
      await authenticateBasic(
        { ...deps(), now: () => new Date(Date.now() + 25 * 3_600_000) },
        "token",
        ro.secret,
      ),
    ).toBeNull();
    await env.t.db
      .update(registryTokens)
      .set({ expiresAt: new Date(Date.now() - 1) })
      .where(eq(registryTokens.id, ro.id));
    expect(await authenticateBasic(deps(), "token", ro.secret)).toBeNull();
  });

  it("takes a Berth bearer token as user iambearer, and as a Bearer header", async () => {
    const cred = await authenticateBasic(deps(), "iamapikey", env.alice.apiKey);
    const { token } = await tokens.issue(cred!, parseScopes(["repository:team/app:pull"]));
    const viaBasic = await authenticateBasic(deps(), "iambearer", token);
    expect(viaBasic?.access).toEqual([{ type: "repository", name: "team/app", actions: ["pull"] }]);
    expect(await authenticate(deps(), { scheme: "bearer", token })).toEqual(viaBasic);
    expect(await authenticateBasic(deps(), "iambearer", env.alice.apiKey)).toBeNull();
  });
});
