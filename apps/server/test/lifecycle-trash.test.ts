// Issue 19, the trash: image.rm, the OCI DELETE and namespace.delete move images there;
// image.restore puts them back byte for byte (checked with skopeo); trash.list and
// trash.purge; the GC purges expired entries with its own event; another tenant can
// neither see, restore nor purge them. Events are asserted field by field.

import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { AtEvent } from "@berth/core";
import { trashEntries } from "@berth/db";
import { collectBlobs, purgeExpiredTrash, storageUsage } from "@berth/registry";
import { eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { checkEvent, crn, expectOneEvent } from "./expect-events";
import { errorInfo, forFile, on, rejects, rid } from "./helpers";
import { layoutBlob, layoutClosure, layoutRef, ok, startOciEnv, umociImage } from "./oci-helpers";

const env = await forFile(startOciEnv(["skopeo", "umoci"]));
let layout: string;
let creds: string;
let digest: string;
const skopeo = (args: string[]) => ok("skopeo", args, { env: env.clientEnv });
const ref = (name: string) => `docker://${env.host}/${name}`;
const A = () => env.client(env.alice);
const B = () => env.client(env.bob);

async function push(tag: string, to: string): Promise<void> {
  await skopeo([
    "copy",
    "--dest-tls-verify=false",
    "--dest-creds",
    creds,
    `oci:${layout}:${tag}`,
    ref(to),
  ]);
}

/** Pull with skopeo into a fresh layout; the manifest and every blob must equal the source. */
async function expectByteIdentical(name: string, dir: string): Promise<void> {
  const pulled = join(env.tmp, dir);
  await skopeo([
    "copy",
    "--src-tls-verify=false",
    "--src-creds",
    creds,
    ref(name),
    `oci:${pulled}:x`,
  ]);
  expect(layoutRef(pulled, "x").digest).toBe(digest);
  for (const d of layoutClosure(layout, digest)) {
    expect(layoutBlob(pulled, d).equals(layoutBlob(layout, d)), `blob ${d}`).toBe(true);
  }
}

beforeAll(async () => {
  await env.namespace(env.alice, "trashns");
  await env.namespace(env.bob, "bobtrash");
  creds = `iamapikey:${env.alice.apiKey}`;
  layout = join(env.tmp, "layout");
  await umociImage(layout, "v1", {
    layers: [{ run: "#!/bin/sh\necho hi\n", data: randomBytes(100_000) }],
  });
  digest = layoutRef(layout, "v1").digest;
}, 120_000);

const imageEvent = (name: string, action: string, severity: "normal" | "warning" | "critical") => ({
  action: `container-registry.${action}`,
  outcome: "success" as const,
  severity,
  reasonCode: 200,
  who: env.alice,
  targetType: "image",
  targetName: name,
  crnResource: `${name.replace(/[:@].*$/, "")}@${digest}`,
});

describe("image.rm into the trash and image.restore", () => {
  it("keeps the blobs and the storage usage, lists the entry until when, restores it by tag byte for byte", async () => {
    await push("v1", "trashns/app:v1");
    const usageBefore = await storageUsage(env.t.db, env.alice.account.id, "us-south");
    const rm = rid("rm");
    const removed = await A().image.rm.mutate({ images: ["trashns/app:v1"] }, on(rm));
    expect(removed.removed[0]!.digest).toBe(digest);
    const rmEvent = await expectOneEvent(
      env,
      rm,
      imageEvent("trashns/app:v1", "image.rm", "critical"),
    );
    expect(rmEvent.responseData).toMatchObject({ digest, tags: ["v1"] });
    expect(Date.parse(String(rmEvent.responseData!.trashedUntil)) - Date.now()).toBeGreaterThan(
      29 * 86_400_000,
    );

    // Gone from the repository, still counted, its blobs survive a GC that collects everything.
    const inspect = await ok(
      "skopeo",
      ["inspect", "--tls-verify=false", "--creds", creds, ref("trashns/app:v1")],
      { env: env.clientEnv },
    ).then(
      () => "found",
      () => "gone",
    );
    expect(inspect).toBe("gone");
    expect(await storageUsage(env.t.db, env.alice.account.id, "us-south")).toBe(usageBefore);
    const gc = await collectBlobs(env.t.db, env.store, { graceMs: 0, unreferencedLinkTtlMs: 0 });
    for (const d of layoutClosure(layout, digest)) expect(gc.removed).not.toContain(d);

    const list = rid("list");
    const items = await A().trash.list.query(undefined, on(list));
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      repository: "trashns/app",
      digest,
      tags: ["v1"],
      reason: "image.rm",
    });
    expect(Date.parse(items[0]!.expiresAt) - Date.parse(items[0]!.deletedAt)).toBe(30 * 86_400_000);
    const listEvent = await expectOneEvent(env, list, {
      action: "container-registry.trash.list",
      outcome: "success",
      severity: "normal",
      reasonCode: 200,
      who: env.alice,
      targetType: "account",
      targetName: env.alice.account.id,
    });
    expect(listEvent.responseData).toEqual({ count: 1 });
    expect(listEvent.dataEvent).toBe(false);

    const restore = rid("restore");
    const restored = await A().image.restore.mutate({ image: "trashns/app:v1" }, on(restore));
    expect(restored).toEqual({ image: "trashns/app:v1", digest, tags: ["v1"], tagsKept: [] });
    const ev = await expectOneEvent(env, restore, {
      ...imageEvent("trashns/app:v1", "image.restore", "warning"),
      message: "Container Registry: restore image trashns/app:v1",
    });
    expect(ev.dataEvent).toBe(true);
    expect(ev.requestData).toEqual({ image: "trashns/app:v1" });
    expect(ev.responseData).toEqual({ digest, tags: ["v1"], tagsKept: [], deletedBy: "image.rm" });
    await expectByteIdentical("trashns/app:v1", "restored-by-tag");
    expect(await A().trash.list.query()).toEqual([]);
  }, 120_000);

  it("refuses a restore by tag when the tag now points elsewhere; by digest it works and leaves the tag", async () => {
    await A().image.rm.mutate({ images: ["trashns/app:v1"] });
    await umociImage(layout, "v2", { layers: [{ other: randomBytes(1000) }] });
    await push("v2", "trashns/app:v1");
    const other = layoutRef(layout, "v2").digest;
    const refused = rid("restore-moved");
    const error = await rejects(A().image.restore.mutate({ image: "trashns/app:v1" }, on(refused)));
    expect(errorInfo(error)).toMatchObject({ code: "CONFLICT" });
    expect(error.message).toBe(
      `tag trashns/app:v1 now points at ${other}; restore trashns/app@${digest} by digest to get the deleted image back without moving the tag`,
    );
    const [failed] = await env.events(refused);
    checkEvent(failed, refused, {
      action: "container-registry.image.restore",
      outcome: "failure",
      severity: "warning",
      reasonCode: 409,
      who: env.alice,
      targetType: "image",
      targetName: "trashns/app:v1",
    });
    const byDigest = rid("restore-digest");
    const res = await A().image.restore.mutate({ image: `trashns/app@${digest}` }, on(byDigest));
    expect(res).toEqual({ image: `trashns/app@${digest}`, digest, tags: [], tagsKept: ["v1"] });
    await expectOneEvent(
      env,
      byDigest,
      imageEvent(`trashns/app@${digest}`, "image.restore", "warning"),
    );
    await expectByteIdentical(`trashns/app@${digest}`, "restored-by-digest");
    const tagged = JSON.parse(
      await skopeo(["inspect", "--tls-verify=false", "--creds", creds, ref("trashns/app:v1")]),
    ) as { Digest: string };
    expect(tagged.Digest).toBe(other);
  }, 120_000);

  it("the OCI DELETE goes to the trash too, with trashedUntil in its event", async () => {
    const res = await fetch(`${env.url()}/v2/trashns/app/manifests/${digest}`, {
      method: "DELETE",
      headers: {
        authorization: `Basic ${Buffer.from(creds).toString("base64")}`,
        "x-request-id": "oci-del-1",
      },
    });
    expect(res.status).toBe(202);
    const [e] = await env.events("oci-del-1");
    expect(e!.event.action).toBe("container-registry.image.delete");
    expect(e!.event.responseData).toMatchObject({ digest, trashedUntil: expect.any(String) });
    const items = await A().trash.list.query({ repository: "trashns/app" });
    expect(items.map((i) => [i.digest, i.reason])).toEqual([[digest, "image.delete"]]);
  });
});

describe("another tenant", () => {
  it("cannot list, restore or purge alice's trash, and learns nothing from trying", async () => {
    const [entry] = await A().trash.list.query();
    expect(entry).toBeDefined();
    expect(await B().trash.list.query()).toEqual([]);
    const restore = await rejects(B().image.restore.mutate({ image: `trashns/app@${digest}` }));
    expect(errorInfo(restore)).toMatchObject({ code: "NOT_FOUND" });
    const unknownNs = await rejects(B().image.restore.mutate({ image: `nosuchns/app@${digest}` }));
    expect(restore.message.replace("trashns", "X")).toBe(
      unknownNs.message.replace("nosuchns", "X"),
    );
    const purge = await rejects(B().trash.purge.mutate({ ids: [entry!.id] }));
    expect(errorInfo(purge)).toMatchObject({ code: "NOT_FOUND" });
    expect(purge.message).toBe(`trash entry ${entry!.id} was not found in region us-south`);
    const stillThere = await env.t.db
      .select()
      .from(trashEntries)
      .where(eq(trashEntries.id, entry!.id));
    expect(stillThere).toHaveLength(1);
  });
});

describe("trash.purge and expiry", () => {
  it("purges on demand, one critical event per image", async () => {
    const [entry] = await A().trash.list.query();
    const id = rid("purge");
    const purged = await A().trash.purge.mutate({ ids: [entry!.id] }, on(id));
    expect(purged).toEqual([{ id: entry!.id, repository: "trashns/app", digest }]);
    const ev = await expectOneEvent(env, id, {
      ...imageEvent(`trashns/app@${digest}`, "trash.purge", "critical"),
      message: `Container Registry: purge image trashns/app@${digest}`,
    });
    expect(ev.requestData).toEqual({ trashEntry: entry!.id, why: "emptied" });
    expect(ev.responseData).toMatchObject({ digest, deletedBy: "image.delete" });
    expect(await A().trash.list.query()).toEqual([]);
  });

  it("the GC purges an expired entry with its own event, the service as initiator", async () => {
    await push("v1", "trashns/old:v1");
    await A().image.rm.mutate({ images: ["trashns/old:v1"] });
    await push("v1", "trashns/young:v1");
    await A().image.rm.mutate({ images: ["trashns/young:v1"] });
    await env.t.db.execute(
      sql`update trash_entries set expires_at = now() - interval '1 minute' where repository = 'trashns/old'`,
    );
    const report = await purgeExpiredTrash(env.t.db, env.store);
    expect(report).toEqual({ purged: 1, accounts: 1 });
    const items = await A().trash.list.query();
    expect(items.map((i) => i.repository)).toEqual(["trashns/young"]);
    const events = (await env.allEvents("container-registry.trash.purge")).filter(
      (e) => e.requestData?.why === "expired",
    );
    expect(events).toHaveLength(1);
    const e = events[0] as AtEvent;
    expect(e.outcome).toBe("success");
    expect(e.severity).toBe("critical");
    expect(e.target).toEqual({
      id: crn("us-south", env.alice.account.id, "image", `trashns/old@${digest}`),
      name: `trashns/old@${digest}`,
      typeURI: "container-registry/image",
    });
    expect(e.initiator.typeURI).toBe("service/security/account/serviceid");
    expect(e.initiator.name).toBe("container-registry");
    expect(e.responseData).toMatchObject({ digest, deletedBy: "image.rm" });
  }, 120_000);
});

describe("namespace.delete into the trash", () => {
  it("trashes every image; once the namespace exists again, it restores", async () => {
    await env.namespace(env.alice, "gone");
    await push("v1", "gone/app:v1");
    const del = rid("nsdel");
    const res = await A().namespace.delete.mutate({ name: "gone" }, on(del));
    expect(res.trashed).toBe(1);
    const items = await A().trash.list.query({ namespace: "gone" });
    expect(items.map((i) => [i.repository, i.reason, i.tags])).toEqual([
      ["gone/app", "namespace.delete", ["v1"]],
    ]);
    const refused = await rejects(A().image.restore.mutate({ image: "gone/app:v1" }));
    expect(errorInfo(refused)).toMatchObject({ code: "NOT_FOUND" });
    await A().namespace.create.mutate({ name: "gone" });
    await A().image.restore.mutate({ image: "gone/app:v1" });
    await expectByteIdentical("gone/app:v1", "restored-ns");
  }, 120_000);
});
