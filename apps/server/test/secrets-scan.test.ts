import { createHash } from "node:crypto";
import { uploadBuildContext } from "@berth/client";
import { basic, pushImage, randomImage, trpc } from "@berth/harness";
import { hashSecret, secretMatches } from "@berth/registry";
import { contextTar } from "@berth/registry/testing";
import { describe, expect, it } from "vitest";
import { forFile, rid, secretPlaces, startTestServer } from "./helpers";
import { postTrpc } from "./raw-requests";

// Every kind of secret, used rightly and wrongly on every surface, then searched for
// everywhere it must never be: the logs (debug level), /metrics, the events, every response
// body and header after the one that created it, and the database's tables in clear.

const env = await forFile(startTestServer());
const secrets = new Map<string, string>();
const seen: string[] = [];

async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(`${env.url()}${path}`, init);
  const text = await res.clone().text();
  seen.push(text, JSON.stringify([...res.headers.entries()]));
  return res;
}

describe("secrets", () => {
  it("are stored as hashes, compared by hash, and never show in logs, metrics, events or later answers", async () => {
    const url = env.url();
    await trpc(url, env.alice.apiKey, "namespace.create", { name: "vault" }, rid());
    secrets.set("alice's API key", env.alice.apiKey);
    secrets.set("bob's API key", env.bob.apiKey);
    const wrongKey = "berth_ak_wrong-but-plausible-0123456789abcdef";
    secrets.set("a wrong API key", wrongKey);

    // Registry tokens: the creating answer is the one place a secret may appear.
    const tokens: Record<string, string> = {};
    for (const access of ["read", "readwrite"]) {
      const res = await postTrpc(url, env.alice.apiKey, "registrytoken.create", {
        access,
        description: `a ${access} token`,
      });
      const data = ((await res.json()) as { result: { data: { id: string; secret: string } } })
        .result.data;
      tokens[access] = data.secret;
      secrets.set(`${access} token`, data.secret);
      await call(
        `/trpc/registrytoken.get?input=${encodeURIComponent(JSON.stringify({ id: data.id }))}`,
        {
          headers: { authorization: `Bearer ${env.alice.apiKey}` },
        },
      );
    }
    const wrongToken = "berth_rt_wrong-but-plausible-0123456789abcdef";
    secrets.set("a wrong registry token", wrongToken);

    // Bearer tokens from both token endpoints.
    const got = await call("/token?scope=repository:vault/app:pull,push", {
      headers: { authorization: basic("iamapikey", env.alice.apiKey) },
    });
    const jwt = ((await got.json()) as { token: string }).token;
    seen.pop();
    seen.pop(); // the issuing answer itself
    secrets.set("bearer token", jwt);
    const form = await fetch(`${url}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `grant_type=password&username=token&password=${tokens.readwrite}&scope=repository:vault/app:pull`,
    });
    secrets.set(
      "bearer token (form)",
      ((await form.json()) as { access_token: string }).access_token,
    );
    const tampered = `${jwt.slice(0, -4)}AAAA`;
    secrets.set("a tampered bearer token", tampered);

    // Use them all, rightly and wrongly, on every surface.
    await pushImage(url, "vault/app", "1", randomImage([512]), {
      auth: `Bearer ${jwt}`,
      requestId: rid(),
    });
    for (const auth of [
      basic("iamapikey", env.alice.apiKey),
      basic("iamapikey", wrongKey),
      basic("token", tokens.read!),
      basic("token", tokens.readwrite!),
      basic("token", wrongToken),
      basic("iambearer", jwt),
      `Bearer ${jwt}`,
      `Bearer ${tampered}`,
      `Bearer ${env.alice.apiKey}`,
    ]) {
      await call("/v2/vault/app/manifests/1", { headers: { authorization: auth } });
      await call("/v2/vault/app/manifests/2", {
        method: "PUT",
        headers: { authorization: auth, "content-type": "application/json" },
        body: "{}",
      });
      await call("/token?scope=repository:vault/app:pull", { headers: { authorization: auth } });
      await call("/v2/_catalog", { headers: { authorization: auth } });
    }
    for (const key of [env.alice.apiKey, wrongKey, tokens.read!, jwt]) {
      await call("/trpc/namespace.list", { headers: { authorization: `Bearer ${key}` } });
      await call("/trpc/namespace.create", {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json" },
        body: JSON.stringify({ name: "x" }),
      });
      await call("/build/context", {
        method: "POST",
        headers: { authorization: `Bearer ${key}` },
        body: Buffer.alloc(16),
      });
    }
    await call("/token", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: `grant_type=password&username=iamapikey&password=${wrongKey}`,
    });
    await uploadBuildContext(
      { url, apiKey: env.alice.apiKey },
      await contextTar({ Dockerfile: "FROM scratch\n" }),
    );

    const everywhere: [string, string][] = [
      ["the answers", seen.join("\n")],
      ...(await secretPlaces(env)),
    ];
    for (const [name, secret] of secrets) {
      const variants = [
        secret,
        hashSecret(secret),
        createHash("sha256").update(secret).digest("base64"),
        Buffer.from(secret).toString("base64"),
      ];
      // JWTs are three parts: none of them may travel either.
      if (secret.split(".").length === 3) variants.push(...secret.split(".").slice(1));
      for (const [where, text] of everywhere) {
        for (const v of variants) {
          // A key's hash is what its table holds: that one place only.
          if (where === "table api_keys" || where === "table registry_tokens") {
            if (v === hashSecret(secret)) continue;
          }
          expect(text.includes(v), `${name} (or a form of it) is in ${where}`).toBe(false);
        }
      }
    }
    // Stored as SHA-256 hashes of the secret, and compared as such.
    const keys = (await env.t.sql`select key_hash from api_keys`).map((r) => r.key_hash as string);
    expect(keys).toContain(hashSecret(env.alice.apiKey));
    const rts = (await env.t.sql`select secret_hash from registry_tokens`).map(
      (r) => r.secret_hash as string,
    );
    expect(rts).toContain(hashSecret(tokens.read!));
    expect(secretMatches(env.alice.apiKey, hashSecret(env.alice.apiKey))).toBe(true);
    expect(secretMatches(wrongKey, hashSecret(env.alice.apiKey))).toBe(false);
    // A stored value of another length is a mismatch, not a crash (timingSafeEqual would throw).
    expect(secretMatches(env.alice.apiKey, "abcd")).toBe(false);
    // The logs are not empty: the requests and the refusals are there.
    expect(env.logs.join("\n")).toMatch(/unauthenticated registry request refused/);
    expect(env.logs.join("\n")).toMatch(/token request refused/);
  });
});
