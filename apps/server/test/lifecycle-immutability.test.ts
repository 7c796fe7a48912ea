// Issue 19, tag immutability: with it on for a repository or a whole namespace, an existing
// tag can be neither moved (skopeo push of another image, image.tag) nor removed
// (image.untag, image.rm, image.bulkdelete, the OCI DELETE by digest or by tag); each
// refusal has its failure event saying why. A new tag, or the same image pushed to the same
// tag again, still works. Another tenant cannot read or change the setting.

import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { checkEvent, expectOneEvent } from "./expect-events";
import { errorInfo, forFile, on, rejects, rid } from "./helpers";
import { expectError, OciClient } from "./oci-client";
import { layoutRef, ok, podmanIn, run, startOciEnv, umociImage } from "./oci-helpers";

const env = await forFile(startOciEnv(["skopeo", "umoci", "podman"]));
let layout: string;
let creds: string;
let d1: string;
let d2: string;
const A = () => env.client(env.alice);
const B = () => env.client(env.bob);
const dest = (name: string) => `docker://${env.host}/${name}`;
const skopeoPush = (tag: string, to: string) =>
  run(
    "skopeo",
    ["copy", "--dest-tls-verify=false", "--dest-creds", creds, `oci:${layout}:${tag}`, dest(to)],
    { env: env.clientEnv },
  );
/** skopeo pushes of the layout's tags to repositories here, each of which must succeed. */
async function pushAll(pushes: [tag: string, to: string][]): Promise<void> {
  for (const [tag, to] of pushes) {
    const r = await skopeoPush(tag, to);
    expect(r.code, `push of ${tag} to ${to}: ${r.stderr}`).toBe(0);
  }
}
const digestOf = async (name: string) =>
  (
    JSON.parse(
      await ok("skopeo", ["inspect", "--tls-verify=false", "--creds", creds, dest(name)], {
        env: env.clientEnv,
      }),
    ) as { Digest: string }
  ).Digest;
const oci = (requestId: string) =>
  OciClient.basic(env.url(), "iamapikey", env.alice.apiKey).withRequestId(requestId);

/** The one failure event of a refused request, checked field by field. */
async function expectRefusal(requestId: string, action: string, targetName: string, crn?: string) {
  const event = await expectOneEvent(env, requestId, {
    action: `container-registry.${action}`,
    outcome: "failure",
    severity: "warning",
    reasonCode: 409,
    who: env.alice,
    targetType: "image",
    targetName,
    ...(crn ? { crnResource: crn } : {}),
  });
  expect(event.reason.reasonForFailure).toMatch(/(is|are) immutable \(tag immutability is on for /);
  expect(event.responseData).toBeUndefined();
  return event;
}

beforeAll(async () => {
  await env.namespace(env.alice, "immns");
  await env.namespace(env.bob, "bobimm");
  creds = `iamapikey:${env.alice.apiKey}`;
  layout = join(env.tmp, "layout");
  await umociImage(layout, "v1", { layers: [{ one: randomBytes(20_000) }] });
  await umociImage(layout, "v2", { layers: [{ two: randomBytes(20_000) }] });
  d1 = layoutRef(layout, "v1").digest;
  d2 = layoutRef(layout, "v2").digest;
  await pushAll([
    ["v1", "immns/app:v1"],
    ["v2", "immns/app:v2"],
  ]);
}, 180_000);

describe("immutability.set and immutability.get", () => {
  it("turn it on for a repository, with a warning event naming the scope", async () => {
    const id = rid("imm-set");
    const res = await A().immutability.set.mutate({ scope: "immns/app", immutable: true }, on(id));
    expect(res).toEqual({
      namespace: "immns",
      immutable: false,
      repositories: ["immns/app"],
      changed: true,
    });
    const ev = await expectOneEvent(env, id, {
      action: "container-registry.immutability.set",
      outcome: "success",
      severity: "warning",
      reasonCode: 200,
      who: env.alice,
      targetType: "namespace",
      targetName: "immns/app",
      message: "Container Registry: set tag immutability immns/app",
    });
    expect(ev.dataEvent).toBe(false);
    expect(ev.requestData).toEqual({ immutable: true });
    expect(ev.responseData).toEqual({
      changed: true,
      namespace: "immns",
      immutable: false,
      repositories: ["immns/app"],
    });

    const get = rid("imm-get");
    expect(await A().immutability.get.query({ namespace: "immns" }, on(get))).toEqual({
      namespace: "immns",
      immutable: false,
      repositories: ["immns/app"],
    });
    const got = await expectOneEvent(env, get, {
      action: "container-registry.immutability.get",
      outcome: "success",
      severity: "normal",
      reasonCode: 200,
      who: env.alice,
      targetType: "namespace",
      targetName: "immns",
      message: "Container Registry: get tag immutability immns",
    });
    expect(got.responseData).toEqual({ immutable: false, repositories: ["immns/app"] });
  });

  it("refuses a bad scope with a clear message and a failure event", async () => {
    const id = rid("imm-bad");
    const error = await rejects(
      A().immutability.set.mutate({ scope: "immns/UPPER", immutable: true }, on(id)),
    );
    expect(errorInfo(error)).toMatchObject({ code: "BAD_REQUEST" });
    expect(error.message).toMatch(/^scope: /);
    const [e] = await env.events(id);
    checkEvent(e, id, {
      action: "container-registry.immutability.set",
      outcome: "failure",
      severity: "warning",
      reasonCode: 400,
      who: env.alice,
      targetType: "namespace",
      targetName: "immns/UPPER",
    });
  });
});

describe("an immutable tag", () => {
  it("cannot be moved by a skopeo push; the tag still names its image and the event says why", async () => {
    const refused = await skopeoPush("v2", "immns/app:v1");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("tag immns/app:v1 is immutable");
    expect(await digestOf("immns/app:v1")).toBe(d1);
    const pushes = (await env.allEvents("container-registry.image.push")).filter(
      (e) => e.outcome === "failure" && e.target.name === "immns/app:v1",
    );
    expect(pushes).toHaveLength(1);
    const e = pushes[0]!;
    expect(e.severity).toBe("warning");
    expect(e.reason.reasonCode).toBe(409);
    expect(e.reason.reasonForFailure).toBe(
      `tag immns/app:v1 is immutable (tag immutability is on for repository immns/app): it points at ${d1} and cannot be moved to ${d2}; use a new tag`,
    );
    expect(e.message).toBe("Container Registry: push image immns/app:v1 -failure");
  }, 120_000);

  it("cannot be moved by a podman push either", async () => {
    const podman = podmanIn(join(env.tmp, "podman"), env.clientEnv).run;
    const source = `${env.host}/immns/app:v2`;
    const target = `${env.host}/immns/app:v1`;
    for (const args of [
      ["pull", "--tls-verify=false", "--creds", creds, source],
      ["tag", source, target],
    ]) {
      const r = await podman(args);
      expect(r.code, r.stderr).toBe(0);
    }
    const refused = await podman(["push", "--tls-verify=false", "--creds", creds, target]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain("tag immns/app:v1 is immutable");
    expect(await digestOf("immns/app:v1")).toBe(d1);
    const failures = (await env.allEvents("container-registry.image.push")).filter(
      (e) => e.outcome === "failure" && /podman|containers/i.test(e.initiator.host.agent ?? ""),
    );
    expect(failures.length).toBeGreaterThan(0);
    for (const e of failures) {
      expect([e.target.name, e.reason.reasonCode]).toEqual(["immns/app:v1", 409]);
      expect(e.reason.reasonForFailure).toMatch(/^tag immns\/app:v1 is immutable/);
    }
  }, 240_000);

  it("is no obstacle to pushing the same image to it again, or to a new tag", async () => {
    await pushAll([
      ["v1", "immns/app:v1"],
      ["v2", "immns/app:v3"],
    ]);
    expect(await digestOf("immns/app:v1")).toBe(d1);
    expect(await digestOf("immns/app:v3")).toBe(d2);
  }, 120_000);

  it("the OCI PUT answers DENIED with the reason", async () => {
    const id = rid("imm-put");
    const manifest = await ok(
      "skopeo",
      ["inspect", "--raw", "--tls-verify=false", "--creds", creds, dest("immns/app:v2")],
      { env: env.clientEnv },
    );
    const r = await oci(id).putManifest(
      "immns/app",
      "v1",
      manifest,
      "application/vnd.oci.image.manifest.v1+json",
    );
    expect(await expectError(r, 409, "DENIED")).toMatch(/^tag immns\/app:v1 is immutable/);
    await expectRefusal(id, "image.push", "immns/app:v1");
  });

  it("cannot be moved by image.tag; a new tag from it is fine", async () => {
    const id = rid("imm-tag");
    const error = await rejects(
      A().image.tag.mutate({ source: "immns/app:v2", target: "immns/app:v1" }, on(id)),
    );
    expect(errorInfo(error)).toMatchObject({ code: "CONFLICT", httpStatus: 409 });
    expect(error.message).toBe(
      `tag immns/app:v1 is immutable (tag immutability is on for repository immns/app): it points at ${d1} and cannot be moved to ${d2}; use a new tag`,
    );
    await expectRefusal(id, "image.tag", "immns/app:v1");
    await A().image.tag.mutate({ source: "immns/app:v1", target: "immns/app:stable" });
    await A().image.tag.mutate({ source: "immns/app:v1", target: "immns/app:v1" });
    expect(await digestOf("immns/app:stable")).toBe(d1);
  });

  it.each([
    ["image.untag", "immns/app:v1", () => A().image.untag],
    ["image.rm", "immns/app:v1", () => A().image.rm],
    ["image.rm", "immns/app@D1", () => A().image.rm],
    ["image.bulkdelete", "immns/app:v2", () => A().image.bulkdelete],
  ] as const)("cannot be removed by %s of %s", async (action, name, proc) => {
    const target = name.replace("D1", d1);
    const input = { images: [target] };
    const id = rid("imm-rm");
    const error = await rejects(proc().mutate(input, on(id)));
    expect(errorInfo(error)).toMatchObject({ code: "CONFLICT" });
    expect(error.message).toMatch(
      /^tags? immns\/app:.+ (is|are) immutable \(tag immutability is on for repository immns\/app\) and cannot be removed$/,
    );
    await expectRefusal(id, action, target);
    expect(await digestOf("immns/app:v1")).toBe(d1);
    expect(await digestOf("immns/app:v2")).toBe(d2);
  });

  it("cannot be removed by the OCI DELETE, by digest or by tag", async () => {
    const byDigest = rid("imm-del");
    const r = await oci(byDigest).request("DELETE", `/v2/immns/app/manifests/${d1}`);
    expect(await expectError(r, 409, "DENIED")).toBe(
      "tags immns/app:stable, immns/app:v1 are immutable (tag immutability is on for repository immns/app) and cannot be removed",
    );
    await expectRefusal(byDigest, "image.delete", `immns/app@${d1}`, `immns/app@${d1}`);
    const byTag = rid("imm-deltag");
    const t = await oci(byTag).request("DELETE", "/v2/immns/app/manifests/v1");
    expect(await expectError(t, 409, "DENIED")).toBe(
      "tag immns/app:v1 is immutable (tag immutability is on for repository immns/app) and cannot be removed",
    );
    await expectRefusal(byTag, "image.untag", "immns/app:v1");
    expect(await digestOf("immns/app:v1")).toBe(d1);
  });

  it("on for the namespace, it covers its other repositories; off again, tags move and go", async () => {
    let r = await skopeoPush("v1", "immns/other:x");
    expect(r.code, r.stderr).toBe(0);
    await A().immutability.set.mutate({ scope: "immns", immutable: true });
    r = await skopeoPush("v2", "immns/other:x");
    expect(r.stderr).toContain(
      "tag immns/other:x is immutable (tag immutability is on for namespace immns)",
    );
    expect(await digestOf("immns/other:x")).toBe(d1);
    const off = await A().immutability.set.mutate({ scope: "immns", immutable: false });
    expect(off).toMatchObject({ changed: true, immutable: false, repositories: ["immns/app"] });
    r = await skopeoPush("v2", "immns/other:x");
    expect(r.code, r.stderr).toBe(0);
    await A().immutability.set.mutate({ scope: "immns/app", immutable: false });
    const again = await A().immutability.set.mutate({ scope: "immns/app", immutable: false });
    expect(again.changed).toBe(false);
    await A().image.untag.mutate({ images: ["immns/app:stable"] });
    await A().image.tag.mutate({ source: "immns/app:v2", target: "immns/app:v1" });
    expect(await digestOf("immns/app:v1")).toBe(d2);
  }, 120_000);
});

describe("another tenant", () => {
  it("cannot read or change alice's immutability, and gets the answer of a namespace that does not exist", async () => {
    await A().immutability.set.mutate({ scope: "immns/app", immutable: true });
    const set = await rejects(B().immutability.set.mutate({ scope: "immns", immutable: false }));
    const setRepo = await rejects(
      B().immutability.set.mutate({ scope: "immns/app", immutable: false }),
    );
    const absent = await rejects(
      B().immutability.set.mutate({ scope: "nosuchns", immutable: false }),
    );
    for (const e of [set, setRepo, absent])
      expect(errorInfo(e)).toMatchObject({ code: "NOT_FOUND" });
    expect(set.message.replace("immns", "X")).toBe(absent.message.replace("nosuchns", "X"));
    expect(setRepo.message).toBe(set.message);
    const get = await rejects(B().immutability.get.query({ namespace: "immns" }));
    expect(errorInfo(get)).toMatchObject({ code: "NOT_FOUND" });
    expect(await A().immutability.get.query({ namespace: "immns" })).toEqual({
      namespace: "immns",
      immutable: false,
      repositories: ["immns/app"],
    });
    // Bob's own namespace is unaffected by alice's setting.
    expect(await B().immutability.get.query({ namespace: "bobimm" })).toEqual({
      namespace: "bobimm",
      immutable: false,
      repositories: [],
    });
  });

  it("a read-only registry token is no API key: refused before any use case runs", async () => {
    const secret = await env.registryToken(env.alice, "read");
    const asToken = env.client({ ...env.alice, apiKey: secret });
    const e = await rejects(asToken.immutability.set.mutate({ scope: "immns", immutable: false }));
    expect(errorInfo(e)).toMatchObject({ code: "UNAUTHORIZED" });
    expect(await A().immutability.get.query({ namespace: "immns" })).toMatchObject({
      repositories: ["immns/app"],
    });
  });
});
