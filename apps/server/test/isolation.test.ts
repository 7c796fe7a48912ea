import { outbox } from "@berth/db";
import { and, eq, sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { crn } from "./expect-events";
import { errorInfo, forFile, on, rejects, rid, startTestServer } from "./helpers";

// Two accounts: neither can see or change the other's resources, and the other's
// resources answer exactly like missing ones, with the failure event in the caller's account.

const env = await forFile(startTestServer());
let tokenId: string;
let digest: string;
let bobImageSize = 0;
const A = () => env.client(env.alice);
const B = () => env.client(env.bob);
const exemption = { scope: "alicens", issueType: "cve", issueId: "CVE-2018-17929" } as const;

beforeAll(async () => {
  await A().namespace.create.mutate({ name: "alicens" });
  await B().namespace.create.mutate({ name: "bobns" });
  digest = (await env.image(env.alice, "alicens/app")).digest;
  tokenId = (await A().registrytoken.create.mutate({ description: "alice's" })).id;
  await A().exemption.create.mutate(exemption);
  await A().quota.set.mutate({ storageMb: 100 });
});

/**
 * Bob's attempt on Alice's resource and on one that does not exist fail the same way;
 * the failure event names Bob and is filed under Bob's account only.
 */
async function sameAsMissing(
  attempt: (requestId: string, name: "alicens" | "ghostns") => Promise<unknown>,
  action: string,
) {
  const theirs = rid("bob");
  const missing = rid("bob");
  const a = errorInfo(await rejects(attempt(theirs, "alicens")));
  const b = errorInfo(await rejects(attempt(missing, "ghostns")));
  expect(a.code).toBe("NOT_FOUND");
  expect(a).toEqual(b);
  const events = await env.events(theirs);
  expect(events).toHaveLength(1);
  const { event, accountId } = events[0]!;
  expect(event.action).toBe(action);
  expect(event.outcome).toBe("failure");
  expect(event.reason.reasonCode).toBe(404);
  expect(event.initiator.id).toBe(env.bob.user.id);
  expect(accountId).toBe(env.bob.account.id);
  expect(event.target.id.startsWith(crn("us-south", env.bob.account.id, "", "").slice(0, -2))).toBe(
    true,
  );
  expect(event.target.id).not.toContain(env.alice.account.id);
  const [aliceRows] = await env.t.db
    .select({ n: sql<number>`count(*)::int` })
    .from(outbox)
    .where(
      and(
        eq(outbox.accountId, env.alice.account.id),
        sql`${outbox.payload}->>'correlationId' = ${theirs}`,
      ),
    );
  expect(aliceRows!.n).toBe(0);
}

describe("two accounts", () => {
  it("cannot see each other's namespaces, images, tokens or exemptions in lists", async () => {
    expect((await B().namespace.list.query()).items.map((n) => n.name)).toEqual(["bobns"]);
    expect((await B().image.list.query()).items).toEqual([]);
    expect((await B().registrytoken.list.query()).items).toEqual([]);
    expect((await B().exemption.list.query()).items).toEqual([]);
    expect((await B().exemption.list.query({ scope: "alicens/app:1" })).items).toEqual([]);
    expect((await A().namespace.list.query()).items.map((n) => n.name)).toEqual(["alicens"]);
  });

  it("namespaces: delete and image list of another's namespace look like missing ones", async () => {
    await sameAsMissing(
      (id, ns) => B().namespace.delete.mutate({ name: ns }, on(id)),
      "container-registry.namespace.delete",
    );
    await sameAsMissing(
      (id, ns) => B().image.list.query({ namespace: ns }, on(id)),
      "container-registry.image.list",
    );
  });

  it("images: inspect, tag, untag and rm of another's image look like missing ones", async () => {
    await sameAsMissing(
      (id, ns) => B().image.inspect.query({ image: `${ns}/app:1` }, on(id)),
      "container-registry.image.inspect",
    );
    await sameAsMissing(
      (id, ns) => B().image.inspect.query({ image: `${ns}/app@${digest}` }, on(id)),
      "container-registry.image.inspect",
    );
    await sameAsMissing(
      (id, ns) =>
        B().image.tag.mutate({ source: `${ns}/app:1`, target: "bobns/app:stolen" }, on(id)),
      "container-registry.image.tag",
    );
    await sameAsMissing(
      (id, ns) => B().image.untag.mutate({ images: [`${ns}/app:1`] }, on(id)),
      "container-registry.image.untag",
    );
    await sameAsMissing(
      (id, ns) => B().image.rm.mutate({ images: [`${ns}/app:1`] }, on(id)),
      "container-registry.image.rm",
    );
  });

  it("cannot tag into another account's namespace", async () => {
    const bobImage = await env.image(env.bob, "bobns/tool");
    await sameAsMissing(
      (id, ns) =>
        B().image.tag.mutate({ source: "bobns/tool:1", target: `${ns}/planted:1` }, on(id)),
      "container-registry.image.tag",
    );
    expect((await A().image.list.query()).items.map((i) => i.image)).toEqual(["alicens/app:1"]);
    expect(bobImage.digest).not.toBe(digest);
    bobImageSize = bobImage.totalSize;
  });

  it("tokens: get, delete and bulk delete of another's token look like missing ones", async () => {
    const ghost = "0190a5c4-0000-7000-8000-00000000ffff";
    for (const [action, call] of [
      [
        "container-registry.registrytoken.get",
        (id: string, t: string) => B().registrytoken.get.query({ id: t }, on(id)),
      ],
      [
        "container-registry.registrytoken.delete",
        (id: string, t: string) => B().registrytoken.delete.mutate({ id: t }, on(id)),
      ],
      [
        "container-registry.registrytokens.delete",
        (id: string, t: string) => B().registrytokens.delete.mutate({ ids: [t] }, on(id)),
      ],
    ] as const) {
      const theirs = rid("bob");
      const a = errorInfo(await rejects(call(theirs, tokenId)));
      const b = errorInfo(await rejects(call(rid("bob"), ghost)));
      expect(a).toEqual(b);
      expect(a.code).toBe("NOT_FOUND");
      const [found] = await env.events(theirs);
      expect(found).toMatchObject({
        accountId: env.bob.account.id,
        event: { action, outcome: "failure" },
      });
    }
    expect((await A().registrytoken.get.query({ id: tokenId })).description).toBe("alice's");
  });

  it("quotas and plans are per account: changes by one never reach the other", async () => {
    const bobQuota = await B().quota.get.query();
    expect(bobQuota.quotas).toEqual({ storageMb: null, trafficMb: null });
    // Bob's usage is his own image only, however much Alice stores.
    expect(bobImageSize).toBeGreaterThan(0);
    expect(bobQuota.usage.storageBytes).toBe(bobImageSize);
    await B().quota.set.mutate({ storageMb: 10, trafficMb: 20 });
    await B().plan.set.mutate({ plan: "standard" });
    const aliceQuota = await A().quota.get.query();
    expect(aliceQuota.quotas).toEqual({ storageMb: 100, trafficMb: null });
    expect(aliceQuota.plan).toBe("lite");
    expect(aliceQuota.usage.storageBytes).toBeGreaterThan(0);
    expect((await A().plan.get.query()).plan).toBe("lite");
  });

  it("exemptions: another's cannot be deleted, nor created on another's namespace", async () => {
    await sameAsMissing(
      (id, ns) => B().exemption.delete.mutate({ ...exemption, scope: ns }, on(id)),
      "container-registry.exemption.delete",
    );
    await sameAsMissing(
      (id, ns) =>
        B().exemption.create.mutate(
          { scope: `${ns}/app`, issueType: "cve", issueId: "CVE-2020-1234" },
          on(id),
        ),
      "container-registry.exemption.create",
    );
    expect((await A().exemption.list.query()).items.map((e) => e.issueId)).toEqual([
      "CVE-2018-17929",
    ]);
  });

  it("leaves every resource of the first account intact", async () => {
    expect((await A().namespace.list.query()).items.map((n) => n.name)).toEqual(["alicens"]);
    expect((await A().image.inspect.query({ image: "alicens/app:1" })).digest).toBe(digest);
    expect((await A().registrytoken.list.query()).items.map((t) => t.id)).toEqual([tokenId]);
    expect((await A().exemption.list.query()).items).toHaveLength(1);
  });
});
