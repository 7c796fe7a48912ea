import { outbox } from "@berth/db";
import { hashSecret } from "@berth/registry";
import { describe, expect, it } from "vitest";
import { createLogger } from "../src/logger";
import { errorInfo, forFile, rejects, rid, startTestServer } from "./helpers";

// Secrets (API keys, registry token secrets) never show up in logs, events or any
// response after the one that created them.

const env = await forFile(startTestServer());

describe("secrets", () => {
  it("never reach logs, events or later responses", async () => {
    const A = env.client(env.alice);
    const badKey = "berth_ak_guessed-key-0123456789abcdef";
    const responses: string[] = [];
    await A.namespace.create.mutate({ name: "vault" });
    const token = await A.registrytoken.create.mutate({
      description: "deploy",
      access: "readwrite",
    });
    responses.push(JSON.stringify(await A.registrytoken.get.query({ id: token.id })));
    responses.push(JSON.stringify(await A.registrytoken.list.query()));
    responses.push(JSON.stringify(await A.whoami.query()));
    await A.registrytokens.delete.mutate({ ids: [token.id] });
    // A failing call (its error path logs) and a refused one with a wrong key.
    await rejects(A.namespace.create.mutate({ name: "x" }));
    const refused = await rejects(env.client({ apiKey: badKey }).namespace.list.query());
    expect(errorInfo(refused).code).toBe("UNAUTHORIZED");
    // The x-api-key header, over raw HTTP, so its response body is checked too.
    const raw = await fetch(`${env.url()}/trpc/whoami`, {
      headers: { "x-api-key": env.bob.apiKey, "x-request-id": rid() },
    });
    expect(raw.status).toBe(200);
    responses.push(await raw.text());
    const rawBad = await fetch(`${env.url()}/trpc/namespace.list`, {
      headers: { authorization: `Bearer ${badKey}` },
    });
    expect(rawBad.status).toBe(401);
    responses.push(await rawBad.text());

    const secrets = [
      env.alice.apiKey,
      env.bob.apiKey,
      badKey,
      token.secret,
      hashSecret(token.secret),
      hashSecret(env.alice.apiKey),
    ];
    const logs = env.logs.join("");
    const events = JSON.stringify(
      (await env.t.db.select({ p: outbox.payload }).from(outbox)).map((r) => r.p),
    );
    for (const secret of secrets) {
      expect(logs.includes(secret), "a secret is in the logs").toBe(false);
      expect(events.includes(secret), "a secret is in an event").toBe(false);
      for (const body of responses)
        expect(body.includes(secret), "a secret is in a response").toBe(false);
    }
    expect(logs).not.toMatch(/bearer /i);
    // The logs are not just empty: requests are there with their ids, and the refusal.
    expect(logs).toContain('"reqId"');
    expect(logs).toMatch(/unauthenticated request refused/);
  });

  it("the logger censors credential fields wherever a handler might log them", () => {
    const lines: string[] = [];
    const log = createLogger({ destination: { write: (l: string) => void lines.push(l) } });
    log.info({
      req: { headers: { authorization: "Bearer abc123", "x-api-key": "k-123" } },
      secret: "s-123",
      input: { apiKey: "k-456", password: "p-1" },
    });
    const line = lines.join("");
    for (const leaked of ["abc123", "k-123", "s-123", "k-456", "p-1"])
      expect(line).not.toContain(leaked);
    expect(line).toContain("[redacted]");
  });
});
