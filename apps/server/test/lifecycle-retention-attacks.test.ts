// Issue 19, retention under attack: another tenant who knows a namespace's name or id cannot
// set, get, analyze or run its policy (and learns nothing it could not learn about a name
// that does not exist); credentials other than an API key (registry tokens, read-only or not,
// a bearer token) and a deleted key are refused before anything runs; bad input gets a clear
// BAD_REQUEST and writes nothing but its failure event.

import { eventSchema } from "@berth/core";
import { apiKeys, namespaces } from "@berth/db";
import { stateFingerprint } from "@berth/db/testing";
import { basic } from "@berth/harness";
import { createApiKey, hashSecret } from "@berth/registry";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { checkEvent, eventCount } from "./expect-events";
import { errorInfo, forFile, on, rejects, rid } from "./helpers";
import { startOciEnv } from "./oci-helpers";
import { pushAged } from "./retention-helpers";

const env = await forFile(startOciEnv());
let namespaceId: string;
const A = () => env.client(env.alice);
const B = () => env.client(env.bob);
const policy = { imagesPerRepository: 1, keepUntagged: false, keepPulledWithinDays: 0 };

const aliceEvents = () => eventCount(env.t.db, env.alice.account.id);

beforeAll(async () => {
  await env.namespace(env.alice, "alicekeep");
  for (const [i, label] of ["k1", "k2", "k3"].entries()) {
    await pushAged(env, env.alice, "alicekeep/app", [label, true, i + 1, null]);
  }
  await A().retention.set.mutate({ namespace: "alicekeep", ...policy });
  const [ns] = await env.t.db.select().from(namespaces).where(eq(namespaces.name, "alicekeep"));
  namespaceId = ns!.id;
}, 120_000);

type Opts = ReturnType<typeof on>;
type Call = [string, (c: ReturnType<typeof B>, namespace: string, o?: Opts) => Promise<unknown>];
const CALLS: Call[] = [
  ["retention.set", (c, namespace, o) => c.retention.set.mutate({ namespace, ...policy }, o)],
  ["retention.get", (c, namespace, o) => c.retention.get.query({ namespace }, o)],
  ["retention.analyze", (c, namespace, o) => c.retention.analyze.query({ namespace }, o)],
  ["retention.run", (c, namespace, o) => c.retention.run.mutate({ namespace, policy }, o)],
];

describe("another tenant", () => {
  it.each(CALLS)(
    "%s on alice's namespace, by name or by id: refused, bob's failure event, nothing of alice's touched",
    async (action, call) => {
      const before = await stateFingerprint(env.t.sql);
      const count = await aliceEvents();
      const id = rid("bob");
      const byName = await rejects(call(B(), "alicekeep", on(id)));
      expect(errorInfo(byName)).toMatchObject({ code: "NOT_FOUND", berthCode: "NOT_FOUND" });
      // The same answer as for a namespace nobody has: the name cannot be probed.
      const unknown = await rejects(call(B(), "nosuchns1"));
      expect(byName.message.replace("alicekeep", "X")).toBe(
        unknown.message.replace("nosuchns1", "X"),
      );
      const [event] = await env.events(id);
      checkEvent(event, id, {
        action: `container-registry.${action}`,
        outcome: "failure",
        severity: "warning",
        reasonCode: 404,
        who: env.bob,
        targetType: "namespace",
        targetName: "alicekeep",
      });
      // The namespace's id is no name: refused as such.
      const byId = await rejects(call(B(), namespaceId));
      expect(errorInfo(byId)).toMatchObject({ code: "BAD_REQUEST" });
      expect(byId.message).toMatch(/^namespace: /);
      expect(await stateFingerprint(env.t.sql)).toEqual(before);
      expect(await aliceEvents()).toBe(count);
    },
  );
});

describe("credentials other than an API key", () => {
  it("registry tokens (read-only and read-write), a bearer token and a deleted API key cannot set, get, analyze or run", async () => {
    const deletedKey = await createApiKey(env.t.db, {
      accountId: env.alice.account.id,
      userId: env.alice.user.id,
    });
    const ok = await A().retention.get.query({ namespace: "alicekeep" });
    expect(ok.policy).not.toBeNull();
    await env.t.db.delete(apiKeys).where(eq(apiKeys.keyHash, hashSecret(deletedKey)));
    const ro = await env.registryToken(env.alice, "read");
    const rw = await env.registryToken(env.alice, "readwrite");
    const tokenRes = await fetch(`${env.url()}/token?scope=repository:alicekeep/app:pull`, {
      headers: { authorization: basic("iamapikey", env.alice.apiKey) },
    });
    const bearer = ((await tokenRes.json()) as { token: string }).token;
    const before = await stateFingerprint(env.t.sql);
    const count = await aliceEvents();
    const creds: Record<string, string> = {
      "read-only registry token": ro,
      "read-write registry token": rw,
      "bearer token": bearer,
      "deleted API key": deletedKey,
    };
    for (const [name, key] of Object.entries(creds)) {
      for (const [action, call] of CALLS) {
        const error = await rejects(call(env.client({ apiKey: key }), "alicekeep"));
        expect(errorInfo(error), `${name} ${action}`).toMatchObject({ code: "UNAUTHORIZED" });
      }
    }
    expect(await stateFingerprint(env.t.sql)).toEqual(before);
    expect(await aliceEvents()).toBe(count);
  });
});

describe("bad input", () => {
  it.each<[string, Record<string, unknown>, RegExp]>([
    ["a negative count", { imagesPerRepository: -1 }, /^imagesPerRepository: .*>=1/],
    ["a zero count", { imagesPerRepository: 0 }, /^imagesPerRepository: .*>=1/],
    ["a huge count", { imagesPerRepository: 1e12 }, /^imagesPerRepository: .*<=10000/],
    ["a fraction", { imagesPerRepository: 2.5 }, /^imagesPerRepository: .*expected int/],
    ["a string count", { imagesPerRepository: "5" }, /^imagesPerRepository: .*number/],
    [
      "negative days",
      { imagesPerRepository: 1, keepPulledWithinDays: -1 },
      /^keepPulledWithinDays: /,
    ],
    ["huge days", { imagesPerRepository: 1, keepPulledWithinDays: 1e9 }, /^keepPulledWithinDays: /],
    ["a non-boolean flag", { imagesPerRepository: 1, keepUntagged: "yes" }, /^keepUntagged: /],
    ["an unknown field", { imagesPerRepository: 1, keepForever: true }, /keepForever/],
    ["a bad namespace", { namespace: "../etc", imagesPerRepository: 1 }, /^namespace: /],
    ["a huge namespace", { namespace: "a".repeat(10_000), imagesPerRepository: 1 }, /^namespace: /],
  ])(
    "retention.set with %s: BAD_REQUEST naming the field, its failure event, nothing written",
    async (_, input, message) => {
      const before = await stateFingerprint(env.t.sql);
      const id = rid("bad");
      const error = await rejects(
        A().retention.set.mutate({ namespace: "alicekeep", ...input } as never, on(id)),
      );
      expect(errorInfo(error)).toMatchObject({ code: "BAD_REQUEST", berthCode: "BAD_REQUEST" });
      expect(error.message).toMatch(message);
      expect(await stateFingerprint(env.t.sql)).toEqual(before);
      const events = await env.events(id);
      expect(events).toHaveLength(1);
      expect(events[0]!.event).toMatchObject({
        action: "container-registry.retention.set",
        outcome: "failure",
        severity: "warning",
        reason: { reasonCode: 400 },
      });
      expect(eventSchema.safeParse(events[0]!.event).success).toBe(true);
    },
  );

  it.each(["analyze", "run"] as const)(
    "retention.%s with a bad policy removes nothing",
    async (verb) => {
      const before = await stateFingerprint(env.t.sql);
      const input = { namespace: "alicekeep", policy: { imagesPerRepository: -5 } };
      const error = await rejects(
        verb === "run" ? A().retention.run.mutate(input) : A().retention.analyze.query(input),
      );
      expect(errorInfo(error)).toMatchObject({ code: "BAD_REQUEST" });
      expect(error.message).toMatch(/^policy\.imagesPerRepository: /);
      expect(await stateFingerprint(env.t.sql)).toEqual(before);
    },
  );
});
