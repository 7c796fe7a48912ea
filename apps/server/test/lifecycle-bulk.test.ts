// Issue 19, bulk deletes and pruning: image.bulkdelete moves many images to the trash in
// one call with one event per image and per-image failures beside the successes; a list
// over the cap is refused whole; image.prune-untagged moves a scope's untagged images to the
// trash but keeps the platform manifests of a tagged index and referrers of a kept image.
// Attacks: another tenant who knows the digests and namespace names, a read-only registry
// token and a pull-only bearer token can delete, prune or restore nothing.

import type { AtEvent } from "@berth/core";
import { trashEntries } from "@berth/db";
import { stateFingerprint } from "@berth/db/testing";
import { count } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { checkEvent, type ExpectedEvent, expectOneEvent } from "./expect-events";
import { errorInfo, forFile, on, rejects, rid } from "./helpers";
import { expectError, MEDIA, OciClient, sha256 } from "./oci-client";
import { startOciEnv } from "./oci-helpers";

const env = await forFile(startOciEnv());
let alice: OciClient;
const A = () => env.client(env.alice);
const B = () => env.client(env.bob);
type Pushed = Awaited<ReturnType<OciClient["pushImage"]>>;
/** The failure event of alice's image.bulkdelete for one image (or, "invalid", the call). */
const bulkFailure = (reasonCode: number, targetName: string): ExpectedEvent => ({
  action: "container-registry.image.bulkdelete",
  outcome: "failure",
  severity: "warning",
  reasonCode,
  who: env.alice,
  targetType: "image",
  targetName,
});

const trashCount = async () =>
  Number((await env.t.db.select({ n: count() }).from(trashEntries))[0]!.n);
const manifestStatus = async (repo: string, digest: string) =>
  (await alice.request("GET", `/v2/${repo}/manifests/${digest}`)).status;
/** An image that is in the repository but has no tag: pushed by tag, then untagged. */
async function pushUntagged(repo: string, tag: string, layer = `${repo} ${tag}`): Promise<Pushed> {
  const pushed = await alice.pushImage(repo, tag, { layers: [Buffer.from(layer)] });
  await A().image.untag.mutate({ images: [`${repo}:${tag}`] });
  return pushed;
}

beforeAll(async () => {
  for (const ns of ["bulkns", "prunens"]) await env.namespace(env.alice, ns);
  await env.namespace(env.bob, "bobbulk");
  alice = OciClient.basic(env.url(), "iamapikey", env.alice.apiKey);
}, 120_000);

describe("image.bulkdelete", () => {
  let a1: Pushed;
  let a2: Pushed;
  let b1: Pushed;

  it("deletes what it can into the trash, one event per image, failures reported per image", async () => {
    a1 = await alice.pushImage("bulkns/a", "1");
    a2 = await alice.pushImage("bulkns/a", "2");
    b1 = await alice.pushImage("bulkns/b", "1");
    const id = rid("bulk");
    const images = [
      "bulkns/a:1",
      `bulkns/b@${b1.digest}`,
      "bulkns/a:nope",
      "bulkns/NotAName",
      "bulkns/a:2",
    ];
    const r = await A().image.bulkdelete.mutate({ images }, on(id));
    expect(r.results).toEqual([
      { target: "bulkns/a:1", ok: true },
      { target: `bulkns/b@${b1.digest}`, ok: true },
      {
        target: "bulkns/a:nope",
        ok: false,
        error: {
          code: "NOT_FOUND",
          message: "image bulkns/a:nope was not found in region us-south",
        },
      },
      {
        target: "bulkns/NotAName",
        ok: false,
        error: { code: "BAD_REQUEST", message: expect.any(String) },
      },
      { target: "bulkns/a:2", ok: true },
    ]);
    expect(r.removed).toEqual([
      { image: "bulkns/a:1", digest: a1.digest, tags: ["1"] },
      { image: `bulkns/b@${b1.digest}`, digest: b1.digest, tags: ["1"] },
      { image: "bulkns/a:2", digest: a2.digest, tags: ["2"] },
    ]);
    const events = await env.events(id);
    expect(events).toHaveLength(5);
    const ok = (i: number, name: string, digest: string, tags: string[]) => {
      const e = checkEvent(events[i], id, {
        action: "container-registry.image.bulkdelete",
        outcome: "success",
        severity: "critical",
        reasonCode: 200,
        who: env.alice,
        targetType: "image",
        targetName: name,
        crnResource: `${name.replace(/[:@].*$/, "")}@${digest}`,
        message: `Container Registry: delete image ${name}`,
      });
      expect(e.dataEvent).toBe(true);
      expect(e.responseData).toEqual({ digest, tags, trashedUntil: expect.any(String) });
      expect(Date.parse(String(e.responseData!.trashedUntil)) - Date.now()).toBeGreaterThan(
        29 * 86_400_000,
      );
    };
    ok(0, "bulkns/a:1", a1.digest, ["1"]);
    ok(1, `bulkns/b@${b1.digest}`, b1.digest, ["1"]);
    ok(4, "bulkns/a:2", a2.digest, ["2"]);
    const nope = checkEvent(events[2], id, {
      ...bulkFailure(404, "bulkns/a:nope"),
      message: "Container Registry: delete image bulkns/a:nope -failure",
    });
    expect(nope.reason.reasonForFailure).toBe(
      "image bulkns/a:nope was not found in region us-south",
    );
    checkEvent(events[3], id, bulkFailure(400, "bulkns/NotAName"));
    const trash = await A().trash.list.query({ namespace: "bulkns" });
    expect(trash.map((t) => [t.repository, t.digest, t.reason]).sort()).toEqual(
      [
        ["bulkns/a", a1.digest, "image.bulkdelete"],
        ["bulkns/a", a2.digest, "image.bulkdelete"],
        ["bulkns/b", b1.digest, "image.bulkdelete"],
      ].sort(),
    );
    for (const [repo, d] of [
      ["bulkns/a", a1.digest],
      ["bulkns/b", b1.digest],
    ] as const) {
      expect(await manifestStatus(repo, d)).toBe(404);
    }
  });

  it("a bulk-deleted image comes back byte for byte", async () => {
    await A().image.restore.mutate({ image: `bulkns/a@${a1.digest}` });
    const r = await alice.request("GET", "/v2/bulkns/a/manifests/1", {
      headers: { accept: MEDIA.ociManifest },
    });
    expect(r.status).toBe(200);
    expect(Buffer.from(await r.arrayBuffer()).equals(a1.bytes)).toBe(true);
    for (const d of [a1.config, ...a1.layers]) {
      const blob = await alice.request("GET", `/v2/bulkns/a/blobs/${d}`);
      expect(blob.status, d).toBe(200);
      expect(sha256(Buffer.from(await blob.arrayBuffer()))).toBe(d);
    }
  });

  it("refuses a list over the cap whole, with a clear message, deleting nothing", async () => {
    const keep = await alice.pushImage("bulkns/keep", "1");
    const before = await trashCount();
    const state = await stateFingerprint(env.t.sql);
    const id = rid("bulk-big");
    const images = ["bulkns/keep:1", ...Array.from({ length: 500 }, (_, i) => `bulkns/x:${i}`)];
    const error = await rejects(A().image.bulkdelete.mutate({ images }, on(id)));
    expect(errorInfo(error)).toMatchObject({ code: "BAD_REQUEST", httpStatus: 400 });
    expect(error.message).toBe(
      "images: at most 500 images per image.bulkdelete call: split the list; nothing was deleted",
    );
    expect(await trashCount()).toBe(before);
    expect(await stateFingerprint(env.t.sql)).toEqual(state);
    expect(await manifestStatus("bulkns/keep", keep.digest)).toBe(200);
    // The refused attempt is audited once, naming no image of the oversized list.
    const event = await expectOneEvent(env, id, bulkFailure(400, "invalid"));
    expect(event.reason.reasonForFailure).toBe(error.message);
  });
});

describe("image.prune-untagged", () => {
  let old: Pushed;
  let current: Pushed;
  let children: Pushed[];
  let referrer: string;
  let loose: Pushed;

  it("moves a repository's untagged images to the trash, keeping index children and referrers", async () => {
    old = await alice.pushImage("prunens/p", "1", { layers: [Buffer.from("old")] });
    current = await alice.pushImage("prunens/p", "1", { layers: [Buffer.from("current")] });
    // A tagged multi-platform image whose platform manifests have no tag of their own.
    children = [await pushUntagged("prunens/p", "amd64"), await pushUntagged("prunens/p", "arm64")];
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: children.map((c) => ({
        mediaType: MEDIA.ociManifest,
        digest: c.digest,
        size: c.bytes.length,
      })),
    };
    const put = await alice.putManifest("prunens/p", "multi", index, MEDIA.ociIndex);
    expect(put.status, await put.clone().text()).toBe(201);
    // A signature-like referrer of the current image: untagged, but it belongs to a kept image.
    const artifact = await alice.pushReferrer(
      "prunens/p",
      current,
      "application/example.signature",
      "signature",
    );
    expect(artifact.response.status, await artifact.response.clone().text()).toBe(201);
    referrer = artifact.digest;
    loose = await pushUntagged("prunens/q", "gone");

    const id = rid("prune");
    const r = await A().image["prune-untagged"].mutate({ repository: "prunens/p" }, on(id));
    expect(r).toEqual({
      pruned: [{ image: `prunens/p@${old.digest}`, repository: "prunens/p", digest: old.digest }],
      remaining: 0,
    });
    const e = await expectOneEvent(env, id, {
      action: "container-registry.image.prune-untagged",
      outcome: "success",
      severity: "critical",
      reasonCode: 200,
      who: env.alice,
      targetType: "image",
      targetName: `prunens/p@${old.digest}`,
      message: `Container Registry: prune image prunens/p@${old.digest}`,
    });
    expect(e.dataEvent).toBe(true);
    expect(e.requestData).toEqual({ repository: "prunens/p" });
    expect(e.responseData).toEqual({ digest: old.digest, trashedUntil: expect.any(String) });
    expect(await manifestStatus("prunens/p", old.digest)).toBe(404);
    for (const d of [current.digest, referrer, ...children.map((c) => c.digest)]) {
      expect(await manifestStatus("prunens/p", d), d).toBe(200);
    }
    // The other repository of the namespace was not in scope.
    expect(await manifestStatus("prunens/q", loose.digest)).toBe(200);
    const trash = await A().trash.list.query({ repository: "prunens/p" });
    expect(trash.map((t) => [t.digest, t.reason, t.tags])).toEqual([
      [old.digest, "image.prune-untagged", []],
    ]);
  });

  it("over a namespace, prunes each repository; with nothing left, one event names the namespace", async () => {
    const id = rid("prune-ns");
    const r = await A().image["prune-untagged"].mutate({ namespace: "prunens" }, on(id));
    expect(r.pruned.map((p) => p.image)).toEqual([`prunens/q@${loose.digest}`]);
    const [e] = await env.events(id);
    expect(e!.event.requestData).toEqual({ namespace: "prunens" });
    const none = rid("prune-none");
    expect(await A().image["prune-untagged"].mutate({ namespace: "prunens" }, on(none))).toEqual({
      pruned: [],
      remaining: 0,
    });
    const empty = await expectOneEvent(env, none, {
      action: "container-registry.image.prune-untagged",
      outcome: "success",
      severity: "critical",
      reasonCode: 200,
      who: env.alice,
      targetType: "namespace",
      targetName: "prunens",
      message: "Container Registry: prune image prunens",
    });
    expect(empty.requestData).toEqual({ namespace: "prunens" });
    expect(empty.responseData).toEqual({ pruned: 0, remaining: 0 });
  });

  it("refuses an input naming both or neither scope, with a failure event", async () => {
    const id = rid("prune-bad");
    const error = await rejects(
      A().image["prune-untagged"].mutate({ namespace: "prunens", repository: "prunens/p" }, on(id)),
    );
    expect(errorInfo(error)).toMatchObject({ code: "BAD_REQUEST" });
    expect(error.message).toBe("give either namespace or repository (ns/repo), not both");
    const [e] = await env.events(id);
    expect(e!.event.outcome).toBe("failure");
    expect(e!.event.action).toBe("container-registry.image.prune-untagged");
  });
});

describe("attacks", () => {
  it("another tenant who knows the digests and names cannot bulk-delete, prune or restore, and learns nothing", async () => {
    const victim = await alice.pushImage("bulkns/victim", "1");
    await pushUntagged("bulkns/victim", "old");
    const [trashed] = await A().trash.list.query({ repository: "bulkns/a" });
    expect(trashed).toBeDefined();
    const before = await trashCount();
    const state = await stateFingerprint(env.t.sql);

    const bulk = await rejects(
      B().image.bulkdelete.mutate({
        images: [`bulkns/victim@${victim.digest}`, "bulkns/victim:1"],
      }),
    );
    const absent = await rejects(
      B().image.bulkdelete.mutate({ images: [`nosuchns/victim@${victim.digest}`] }),
    );
    expect(errorInfo(bulk)).toMatchObject({ code: "NOT_FOUND" });
    expect(bulk.message.replace("bulkns", "X")).toBe(absent.message.replace("nosuchns", "X"));

    const prune = await rejects(B().image["prune-untagged"].mutate({ namespace: "bulkns" }));
    const pruneRepo = await rejects(
      B().image["prune-untagged"].mutate({ repository: "bulkns/victim" }),
    );
    const pruneAbsent = await rejects(
      B().image["prune-untagged"].mutate({ namespace: "nosuchns" }),
    );
    for (const e of [prune, pruneRepo, pruneAbsent]) {
      expect(errorInfo(e)).toMatchObject({ code: "NOT_FOUND" });
    }
    expect(prune.message.replace("bulkns", "X")).toBe(pruneAbsent.message.replace("nosuchns", "X"));
    expect(pruneRepo.message.replace("bulkns", "X")).toBe(
      pruneAbsent.message.replace("nosuchns", "X"),
    );

    const restore = await rejects(
      B().image.restore.mutate({ image: `bulkns/a@${trashed!.digest}` }),
    );
    expect(errorInfo(restore)).toMatchObject({ code: "NOT_FOUND" });

    expect(await trashCount()).toBe(before);
    expect(await stateFingerprint(env.t.sql)).toEqual(state);
    expect(await manifestStatus("bulkns/victim", victim.digest)).toBe(200);
    // Bob's failure events name what he asked for, under his own account only.
    const bobs = (await env.allEvents()).filter(
      (e: AtEvent) => e.initiator.id === env.bob.user.id && e.outcome === "failure",
    );
    expect(bobs.length).toBeGreaterThan(0);
    for (const e of bobs) expect(e.target.id).toContain(`:a/${env.bob.account.id}::`);
  });

  it("a read-only registry token and a pull-only bearer token delete, prune and restore nothing", async () => {
    const victim = await alice.pushImage("bulkns/ro", "1");
    const readOnly = await env.registryToken(env.alice, "read");
    const before = await trashCount();
    const state = await stateFingerprint(env.t.sql);
    // A registry token is no API key: the management API refuses it before any use case.
    const asToken = env.client({ ...env.alice, apiKey: readOnly });
    // One call at a time: calls made up front and awaited in turn could reject before their
    // handler is attached, which vitest reports as an unhandled rejection.
    for (const attempt of [
      () => asToken.image.bulkdelete.mutate({ images: ["bulkns/ro:1"] }),
      () => asToken.image["prune-untagged"].mutate({ namespace: "bulkns" }),
      () => asToken.image.restore.mutate({ image: `bulkns/a@${sha256("x")}` }),
    ]) {
      expect(errorInfo(await rejects(attempt()))).toMatchObject({ code: "UNAUTHORIZED" });
    }
    // On /v2 the read-only token is denied the DELETE; a pull-only bearer token lacks the scope.
    const denied = await OciClient.basic(env.url(), "token", readOnly).request(
      "DELETE",
      `/v2/bulkns/ro/manifests/${victim.digest}`,
    );
    await expectError(denied, 403, "DENIED");
    const pullOnly = await OciClient.bearer(env.url(), "iamapikey", env.alice.apiKey, [
      "repository:bulkns/ro:pull",
    ]);
    const scoped = await pullOnly.request("DELETE", `/v2/bulkns/ro/manifests/${victim.digest}`);
    await expectError(scoped, 401, "UNAUTHORIZED");
    expect(await trashCount()).toBe(before);
    expect(await stateFingerprint(env.t.sql)).toEqual(state);
    expect(await manifestStatus("bulkns/ro", victim.digest)).toBe(200);
  });
});
