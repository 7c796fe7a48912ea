// Issue 19, retention: a policy per namespace (retention.set / .get), what a run would remove
// (retention.analyze) and a run on demand (retention.run) that moves to the trash exactly
// that, one image.rm event per image with the service as initiator and the policy in its
// requestData. Cases are rows of a table; events are asserted field by field.

import type { RetentionPolicyInput } from "@berth/core";
import { basic } from "@berth/harness";
import { createNamespace } from "@berth/registry";
import { apiKeyPrincipal, testContext } from "@berth/registry/testing";
import { describe, expect, it } from "vitest";
import { checkEvent, crn, expectOneEvent } from "./expect-events";
import { errorInfo, forFile, on, rejects, rid, startTestServer } from "./helpers";
import { checkRetentionRemoval, type ImageSpec, pushAged } from "./retention-helpers";

const env = await forFile(startTestServer());
const A = () => env.client(env.alice);

async function namespace(name: string): Promise<void> {
  await createNamespace(
    testContext({
      db: env.t.db,
      store: env.store,
      principal: apiKeyPrincipal(env.alice.account, env.alice.user),
    }),
    { name },
  );
}

/** Images per repository (`repo` under the row's namespace), and the labels a run removes. */
type Case = [
  what: string,
  policy: RetentionPolicyInput,
  images: Record<string, ImageSpec[]>,
  removed: string[],
  /** A repository where tag immutability is on. */
  immutable?: string,
];

/** Two tagged images with an untagged one between them, in one repository. */
const UNTAGGED_BETWEEN: Record<string, ImageSpec[]> = {
  app: [
    ["t1", true, 1, null],
    ["u1", false, 2, null],
    ["t2", true, 3, null],
  ],
};

const CASES: Case[] = [
  [
    "keeps the N newest tagged images per repository",
    { imagesPerRepository: 2, keepPulledWithinDays: 0 },
    {
      app: [
        ["a1", true, 1, null],
        ["a2", true, 2, null],
        ["a3", true, 3, null],
        ["a4", true, 4, null],
      ],
      web: [
        ["w1", true, 5, null],
        ["w2", true, 6, null],
      ],
    },
    ["a3", "a4"],
  ],
  [
    "removes untagged images unless the policy keeps them; they do not use up the count",
    { imagesPerRepository: 1, keepPulledWithinDays: 0 },
    UNTAGGED_BETWEEN,
    ["u1", "t2"],
  ],
  [
    "keeps untagged images when told to",
    { imagesPerRepository: 1, keepUntagged: true, keepPulledWithinDays: 0 },
    UNTAGGED_BETWEEN,
    ["t2"],
  ],
  [
    "never removes an image pulled (over /v2) within the window; an older pull does not protect",
    { imagesPerRepository: 1, keepPulledWithinDays: 7 },
    {
      app: [
        ["t1", true, 1, null],
        ["t2", true, 2, "now"],
        ["t3", true, 3, 10],
        ["u1", false, 4, "now"],
      ],
    },
    ["t3"],
  ],
  [
    "never removes the newest image of a repository, even an untagged one",
    { imagesPerRepository: 1, keepPulledWithinDays: 0 },
    {
      app: [
        ["u1", false, 1, null],
        ["t1", true, 2, null],
        ["t2", true, 3, null],
      ],
      solo: [["u2", false, 9, null]],
    },
    ["t2"],
  ],
  [
    "never removes an image whose tags are immutable; untagged ones there still go",
    { imagesPerRepository: 1, keepPulledWithinDays: 0 },
    {
      app: [
        ["t1", true, 1, null],
        ["t2", true, 2, null],
        ["u1", false, 3, null],
      ],
    },
    ["u1"],
    "app",
  ],
];

describe("a policy run keeps exactly what it should", () => {
  it.each(CASES.map((c, i) => [i, ...c] as const))(
    "case %i: %s",
    async (i, _what, policy, images, removed, immutable) => {
      const ns = `retcase${i}`;
      await namespace(ns);
      if (immutable) {
        await A().immutability.set.mutate({ scope: `${ns}/${immutable}`, immutable: true });
      }
      const digests = new Map<string, string>();
      for (const [repo, specs] of Object.entries(images)) {
        for (const spec of specs) {
          digests.set(spec[0], await pushAged(env, env.alice, `${ns}/${repo}`, spec));
        }
      }
      const label = (digest: string) => [...digests].find(([, d]) => d === digest)![0];
      const repoOf = (name: string) =>
        Object.entries(images).find(([, specs]) => specs.some((x) => x[0] === name))![0];
      await A().retention.set.mutate({ namespace: ns, ...policy });

      const analysis = await A().retention.analyze.query({ namespace: ns });
      expect(analysis.remove.map((r) => label(r.digest)).sort()).toEqual([...removed].sort());
      expect(analysis.keep).toHaveLength(digests.size - removed.length);

      const runId = rid("run");
      const run = await A().retention.run.mutate({ namespace: ns }, on(runId));
      // Analyze is what the run then does.
      expect(run.removed.map((r) => r.digest).sort()).toEqual(
        analysis.remove.map((r) => r.digest).sort(),
      );
      expect(run.skipped).toEqual([]);
      expect(run.failed).toEqual([]);
      expect(run.kept).toBe(analysis.keep.length);

      // The removed images are in the trash, marked as retention's; the rest still pull.
      const trash = await A().trash.list.query({ namespace: ns });
      expect(trash.map((t) => label(t.digest)).sort()).toEqual([...removed].sort());
      expect(new Set(trash.map((t) => t.reason))).toEqual(
        new Set(removed.length ? ["retention.run"] : []),
      );
      for (const [name, digest] of digests) {
        const res = await fetch(`${env.url()}/v2/${ns}/${repoOf(name)}/manifests/${digest}`, {
          method: "HEAD",
          headers: { authorization: basic("iamapikey", env.alice.apiKey) },
        });
        expect(res.status, `${name}`).toBe(removed.includes(name) ? 404 : 200);
      }

      // A second run finds nothing more to remove.
      expect((await A().retention.analyze.query({ namespace: ns })).remove).toEqual([]);

      // The run's event and one image.rm per image, field by field.
      const events = (await env.events(runId)).map((e) => e.event);
      expect(events.map((e) => e.action)).toEqual([
        "container-registry.retention.run",
        ...removed.map(() => "container-registry.image.rm"),
      ]);
      const full = { keepUntagged: false, keepPulledWithinDays: 30, ...policy };
      for (const event of events.slice(1)) {
        const digest = event.responseData!.digest as string;
        const name = label(digest);
        checkRetentionRemoval(event, env.alice, {
          repository: `${ns}/${repoOf(name)}`,
          digest,
          requestId: runId,
          requestData: {
            namespace: ns,
            retentionPolicy: full,
            trigger: "manual",
            reason: /^u/.test(name) ? "untagged" : "beyond-count",
          },
          tags: /^u/.test(name) ? [] : [name],
        });
      }
    },
    120_000,
  );
});

describe("the events of retention.set, .get, .analyze and .run", () => {
  it("are written field by field, naming the caller and the namespace", async () => {
    await namespace("retevents");
    await pushAged(env, env.alice, "retevents/app", ["n1", true, 1, null]);
    await pushAged(env, env.alice, "retevents/app", ["n2", true, 2, null]);
    const expected = (action: string, severity: "normal" | "warning" | "critical") => ({
      action: `container-registry.retention.${action}`,
      outcome: "success" as const,
      severity,
      reasonCode: 200,
      who: env.alice,
      targetType: "namespace",
      targetName: "retevents",
    });

    const set = rid("set");
    const policy = { imagesPerRepository: 1, keepUntagged: true, keepPulledWithinDays: 14 };
    expect(await A().retention.set.mutate({ namespace: "retevents", ...policy }, on(set))).toEqual({
      namespace: "retevents",
      policy,
      previous: null,
    });
    const setEvent = await expectOneEvent(env, set, {
      ...expected("set", "warning"),
      message: "Container Registry: set retention policy retevents",
    });
    expect(setEvent.dataEvent).toBe(false);
    expect(setEvent.requestData).toEqual({ namespace: "retevents", ...policy });
    expect(setEvent.responseData).toEqual({ previous: null });

    const again = rid("set2");
    await A().retention.set.mutate({ namespace: "retevents", imagesPerRepository: 1 }, on(again));
    const againEvent = await expectOneEvent(env, again, expected("set", "warning"));
    expect(againEvent.requestData).toEqual({
      namespace: "retevents",
      imagesPerRepository: 1,
      keepUntagged: false,
      keepPulledWithinDays: 30,
    });
    expect(againEvent.responseData).toEqual({ previous: policy });

    const get = rid("get");
    const got = await A().retention.get.query({ namespace: "retevents" }, on(get));
    expect(got.policy).toMatchObject({
      imagesPerRepository: 1,
      keepUntagged: false,
      keepPulledWithinDays: 30,
      lastRunAt: null,
    });
    const getEvent = await expectOneEvent(env, get, {
      ...expected("get", "normal"),
      message: "Container Registry: get retention policy retevents",
    });
    expect(getEvent.requestData).toEqual({ namespace: "retevents" });
    expect(getEvent.responseData).toEqual({ hasPolicy: true });

    // analyze with a policy given for the call: the stored one is not used, nor changed.
    const analyze = rid("analyze");
    const given = { imagesPerRepository: 5, keepUntagged: false, keepPulledWithinDays: 0 };
    const analysis = await A().retention.analyze.query(
      { namespace: "retevents", policy: given },
      on(analyze),
    );
    expect(analysis.remove).toEqual([]);
    const analyzeEvent = await expectOneEvent(env, analyze, {
      ...expected("analyze", "normal"),
      message: "Container Registry: analyze retention policy retevents",
    });
    expect(analyzeEvent.requestData).toEqual({
      namespace: "retevents",
      policy: given,
      policyGiven: true,
    });
    expect(analyzeEvent.responseData).toEqual({ remove: 0, keep: 2 });

    const run = rid("run");
    const result = await A().retention.run.mutate({ namespace: "retevents" }, on(run));
    expect(result.removed.map((r) => r.tags)).toEqual([["n2"]]);
    const events = await env.events(run);
    expect(events).toHaveLength(2);
    const runEvent = checkEvent(events[0], run, {
      ...expected("run", "critical"),
      message: "Container Registry: run retention policy retevents",
    });
    expect(runEvent.dataEvent).toBe(false);
    expect(runEvent.requestData).toEqual({
      namespace: "retevents",
      policy: { imagesPerRepository: 1, keepUntagged: false, keepPulledWithinDays: 30 },
      policyGiven: false,
      trigger: "manual",
    });
    expect(runEvent.responseData).toEqual({ planned: 1, keep: 1 });
    expect(events[1]!.event.target.id).toBe(
      crn("us-south", env.alice.account.id, "image", `retevents/app@${result.removed[0]!.digest}`),
    );
    const after = await A().retention.get.query({ namespace: "retevents" });
    expect(after.policy!.lastRunAt).not.toBeNull();
  }, 120_000);

  it("a run without a policy fails with NOT_FOUND and a failure event; nothing moves", async () => {
    await namespace("retnopolicy");
    await pushAged(env, env.alice, "retnopolicy/app", ["p1", true, 1, null]);
    await pushAged(env, env.alice, "retnopolicy/app", ["p2", true, 2, null]);
    const id = rid("run-nopolicy");
    const error = await rejects(A().retention.run.mutate({ namespace: "retnopolicy" }, on(id)));
    expect(errorInfo(error)).toMatchObject({ code: "NOT_FOUND" });
    expect(error.message).toBe(
      "namespace retnopolicy has no retention policy: set one with retention.set, or give one for this call",
    );
    await expectOneEvent(env, id, {
      action: "container-registry.retention.run",
      outcome: "failure",
      severity: "warning",
      reasonCode: 404,
      who: env.alice,
      targetType: "namespace",
      targetName: "retnopolicy",
    });
    expect(await A().trash.list.query({ namespace: "retnopolicy" })).toEqual([]);
  }, 60_000);
});
