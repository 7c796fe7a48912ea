import { createTestImage, type TestImage } from "@berth/registry/testing";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  checkEvent,
  errorInfo,
  expectOneEvent,
  rejects,
  rid,
  startTestServer,
  type TestServer,
} from "./helpers";

// Every tRPC action: a success and failures, each with its exact event in the outbox.

let env: TestServer;
let robin: TestImage;
const on = (requestId: string) => ({ context: { requestId } });
const A = () => env.client(env.alice);
const B = () => env.client(env.bob);

beforeAll(async () => {
  env = await startTestServer();
  await A().namespace.create.mutate({ name: "birds" });
  await B().namespace.create.mutate({ name: "bobsns" });
  robin = await createTestImage(env.t.db, env.store, {
    accountId: env.alice.account.id,
    region: "us-south",
    repository: "birds/robin",
    tag: "1",
  });
});
afterAll(async () => env?.close());

/** Make a table unreachable for the duration of `fn`: a real database failure, no mocks. */
async function withTableGone<T>(table: string, fn: () => Promise<T>): Promise<T> {
  await env.t.db.execute(sql.raw(`alter table ${table} rename to ${table}_gone`));
  try {
    return await fn();
  } finally {
    await env.t.db.execute(sql.raw(`alter table ${table}_gone rename to ${table}`));
  }
}

describe("namespace.create", () => {
  it("succeeds with a 201 normal event naming the namespace", async () => {
    const id = rid();
    const res = await A().namespace.create.mutate({ name: "parrots" }, on(id));
    expect(res).toMatchObject({ name: "parrots", region: "us-south" });
    expect(new Date(res.createdAt).toISOString()).toBe(res.createdAt);
    await expectOneEvent(env, id, {
      action: "container-registry.namespace.create",
      outcome: "success",
      severity: "normal",
      reasonCode: 201,
      who: env.alice,
      targetType: "namespace",
      targetName: "parrots",
      message: "Container Registry: create namespace parrots",
    });
  });

  it("fails on an invalid name with a 400 warning event and a clear message", async () => {
    const id = rid();
    const error = await rejects(A().namespace.create.mutate({ name: "AB" }, on(id)));
    expect(errorInfo(error)).toEqual({
      code: "BAD_REQUEST",
      httpStatus: 400,
      berthCode: "BAD_REQUEST",
    });
    expect(error.message).toMatch(/too short/);
    const event = await expectOneEvent(env, id, {
      action: "container-registry.namespace.create",
      outcome: "failure",
      severity: "warning",
      reasonCode: 400,
      who: env.alice,
      targetType: "namespace",
      targetName: "AB",
      message: "Container Registry: create namespace AB -failure",
    });
    expect(event.reason.reasonForFailure).toMatch(/too short/);
  });

  it("fails on input that is not even an object, still audited", async () => {
    const id = rid();
    const error = await rejects(A().namespace.create.mutate(undefined as never, on(id)));
    expect(errorInfo(error).code).toBe("BAD_REQUEST");
    await expectOneEvent(env, id, {
      action: "container-registry.namespace.create",
      outcome: "failure",
      severity: "warning",
      reasonCode: 400,
      who: env.alice,
      targetType: "namespace",
      targetName: "invalid",
    });
  });

  it("fails with 409 when the name is taken in the region, by any account", async () => {
    const id = rid();
    const error = await rejects(B().namespace.create.mutate({ name: "birds" }, on(id)));
    expect(errorInfo(error)).toMatchObject({ code: "CONFLICT", httpStatus: 409 });
    await expectOneEvent(env, id, {
      action: "container-registry.namespace.create",
      outcome: "failure",
      severity: "warning",
      reasonCode: 409,
      who: env.bob,
      targetType: "namespace",
      targetName: "birds",
    });
  });
});

describe("namespace.list", () => {
  it("succeeds with an account-targeted event", async () => {
    const id = rid();
    const list = await A().namespace.list.query(undefined, on(id));
    expect(list.map((n) => n.name)).toEqual(expect.arrayContaining(["birds", "parrots"]));
    expect(list.find((n) => n.name === "birds")).toMatchObject({ repositories: 1, images: 1 });
    await expectOneEvent(env, id, {
      action: "container-registry.namespace.list",
      outcome: "success",
      severity: "normal",
      reasonCode: 200,
      who: env.alice,
      targetType: "account",
      targetName: env.alice.account.id,
      message: "Container Registry: list namespaces",
    });
  });

  it("fails with a 500 event when the database fails, without leaking details", async () => {
    const id = rid();
    const error = await withTableGone("namespaces", () =>
      rejects(A().namespace.list.query(undefined, on(id))),
    );
    expect(errorInfo(error)).toMatchObject({ code: "INTERNAL_SERVER_ERROR", httpStatus: 500 });
    expect(error.message).toBe("internal error");
    const event = await expectOneEvent(env, id, {
      action: "container-registry.namespace.list",
      outcome: "failure",
      severity: "warning",
      reasonCode: 500,
      who: env.alice,
      targetType: "account",
      targetName: env.alice.account.id,
    });
    expect(event.reason.reasonForFailure).toBe("internal error");
  });
});

describe("namespace.delete", () => {
  it("succeeds with a critical event", async () => {
    await A().namespace.create.mutate({ name: "doomed" });
    const id = rid();
    const res = await A().namespace.delete.mutate({ name: "doomed" }, on(id));
    expect(res).toMatchObject({ name: "doomed", repositories: 0, images: 0 });
    await expectOneEvent(env, id, {
      action: "container-registry.namespace.delete",
      outcome: "success",
      severity: "critical",
      reasonCode: 200,
      who: env.alice,
      targetType: "namespace",
      targetName: "doomed",
      message: "Container Registry: delete namespace doomed",
    });
  });

  it("fails with 404 for a namespace the caller does not have", async () => {
    const id = rid();
    const error = await rejects(A().namespace.delete.mutate({ name: "nowhere" }, on(id)));
    expect(errorInfo(error)).toMatchObject({ code: "NOT_FOUND", httpStatus: 404 });
    await expectOneEvent(env, id, {
      action: "container-registry.namespace.delete",
      outcome: "failure",
      severity: "warning",
      reasonCode: 404,
      who: env.alice,
      targetType: "namespace",
      targetName: "nowhere",
    });
  });
});

describe("image.list", () => {
  it("succeeds with the account's tagged images", async () => {
    const id = rid();
    const list = await A().image.list.query({ namespace: "birds" }, on(id));
    expect(list).toContainEqual(
      expect.objectContaining({
        image: "birds/robin:1",
        digest: robin.digest,
        size: robin.totalSize,
      }),
    );
    const event = await expectOneEvent(env, id, {
      action: "container-registry.image.list",
      outcome: "success",
      severity: "normal",
      reasonCode: 200,
      who: env.alice,
      targetType: "account",
      targetName: env.alice.account.id,
    });
    expect(event.requestData).toEqual({ namespace: "birds" });
  });

  it("fails with 404 when filtering on a namespace that is not the caller's", async () => {
    const id = rid();
    const error = await rejects(A().image.list.query({ namespace: "bobsns" }, on(id)));
    expect(errorInfo(error).code).toBe("NOT_FOUND");
    await expectOneEvent(env, id, {
      action: "container-registry.image.list",
      outcome: "failure",
      severity: "warning",
      reasonCode: 404,
      who: env.alice,
      targetType: "account",
      targetName: env.alice.account.id,
    });
  });

  it("fails with 400 on an invalid filter", async () => {
    const id = rid();
    const error = await rejects(A().image.list.query({ repository: "no-namespace" }, on(id)));
    expect(errorInfo(error).code).toBe("BAD_REQUEST");
    await expectOneEvent(env, id, {
      action: "container-registry.image.list",
      outcome: "failure",
      severity: "warning",
      reasonCode: 400,
      who: env.alice,
      targetType: "account",
      targetName: env.alice.account.id,
    });
  });
});

describe("image.inspect", () => {
  it("succeeds; the target names the image as requested and by digest in its CRN", async () => {
    const id = rid();
    const details = await A().image.inspect.query({ image: "birds/robin:1" }, on(id));
    expect(details).toMatchObject({ digest: robin.digest, tags: ["1"], config: robin.config });
    await expectOneEvent(env, id, {
      action: "container-registry.image.inspect",
      outcome: "success",
      severity: "normal",
      reasonCode: 200,
      who: env.alice,
      targetType: "image",
      targetName: "birds/robin:1",
      crnResource: `birds/robin@${robin.digest}`,
      message: "Container Registry: inspect image birds/robin:1",
    });
  });

  it("fails with 404 for a missing tag, and 400 for a bad reference", async () => {
    const id = rid();
    expect(
      errorInfo(await rejects(A().image.inspect.query({ image: "birds/robin:nope" }, on(id)))).code,
    ).toBe("NOT_FOUND");
    await expectOneEvent(env, id, {
      action: "container-registry.image.inspect",
      outcome: "failure",
      severity: "warning",
      reasonCode: 404,
      who: env.alice,
      targetType: "image",
      targetName: "birds/robin:nope",
    });
    const bad = rid();
    expect(
      errorInfo(await rejects(A().image.inspect.query({ image: "Birds/Robin" }, on(bad)))).code,
    ).toBe("BAD_REQUEST");
    await expectOneEvent(env, bad, {
      action: "container-registry.image.inspect",
      outcome: "failure",
      severity: "warning",
      reasonCode: 400,
      who: env.alice,
      targetType: "image",
      targetName: "Birds/Robin",
    });
  });
});

describe("image.tag", () => {
  it("succeeds across repositories; the event names the new tag", async () => {
    const id = rid();
    const res = await A().image.tag.mutate(
      { source: "birds/robin:1", target: "parrots/robin:copy" },
      on(id),
    );
    expect(res).toEqual({
      source: "birds/robin:1",
      target: "parrots/robin:copy",
      digest: robin.digest,
    });
    const event = await expectOneEvent(env, id, {
      action: "container-registry.image.tag",
      outcome: "success",
      severity: "normal",
      reasonCode: 200,
      who: env.alice,
      targetType: "image",
      targetName: "parrots/robin:copy",
      crnResource: `parrots/robin@${robin.digest}`,
    });
    expect(event.requestData).toEqual({ source: "birds/robin:1", target: "parrots/robin:copy" });
  });

  it("fails with 404 when the source does not exist", async () => {
    const id = rid();
    const error = await rejects(
      A().image.tag.mutate({ source: "birds/robin:ghost", target: "birds/robin:new" }, on(id)),
    );
    expect(errorInfo(error).code).toBe("NOT_FOUND");
    await expectOneEvent(env, id, {
      action: "container-registry.image.tag",
      outcome: "failure",
      severity: "warning",
      reasonCode: 404,
      who: env.alice,
      targetType: "image",
      targetName: "birds/robin:new",
    });
  });

  it("fails with 400 when the new tag is missing", async () => {
    const id = rid();
    const error = await rejects(
      A().image.tag.mutate({ source: "birds/robin:1", target: "birds/other" }, on(id)),
    );
    expect(errorInfo(error).code).toBe("BAD_REQUEST");
    await expectOneEvent(env, id, {
      action: "container-registry.image.tag",
      outcome: "failure",
      severity: "warning",
      reasonCode: 400,
      who: env.alice,
      targetType: "image",
      targetName: "birds/other",
    });
  });
});

describe("image.untag", () => {
  it("succeeds with one warning event per image, in one request", async () => {
    await A().image.tag.mutate({ source: "birds/robin:1", target: "birds/robin:a" });
    await A().image.tag.mutate({ source: "birds/robin:1", target: "birds/robin:b" });
    const id = rid();
    const res = await A().image.untag.mutate(
      { images: ["birds/robin:a", "birds/robin:b"] },
      on(id),
    );
    expect(res.untagged).toEqual(["birds/robin:a", "birds/robin:b"]);
    const events = await env.events(id);
    expect(events).toHaveLength(2);
    for (const [i, tag] of ["a", "b"].entries()) {
      checkEvent(events[i], id, {
        action: "container-registry.image.untag",
        outcome: "success",
        severity: "warning",
        reasonCode: 200,
        who: env.alice,
        targetType: "image",
        targetName: `birds/robin:${tag}`,
        crnResource: `birds/robin@${robin.digest}`,
      });
    }
  });

  it("fails with 400 without an explicit tag, and 404 for a missing one", async () => {
    const id = rid();
    expect(
      errorInfo(await rejects(A().image.untag.mutate({ images: ["birds/robin"] }, on(id)))).code,
    ).toBe("BAD_REQUEST");
    await expectOneEvent(env, id, {
      action: "container-registry.image.untag",
      outcome: "failure",
      severity: "warning",
      reasonCode: 400,
      who: env.alice,
      targetType: "image",
      targetName: "birds/robin",
    });
    const missing = rid();
    expect(
      errorInfo(await rejects(A().image.untag.mutate({ images: ["birds/robin:zzz"] }, on(missing))))
        .code,
    ).toBe("NOT_FOUND");
    await expectOneEvent(env, missing, {
      action: "container-registry.image.untag",
      outcome: "failure",
      severity: "warning",
      reasonCode: 404,
      who: env.alice,
      targetType: "image",
      targetName: "birds/robin:zzz",
    });
  });
});

describe("image.rm", () => {
  it("succeeds with a critical event per image; missing ones fail on their own", async () => {
    const gone = await createTestImage(env.t.db, env.store, {
      accountId: env.alice.account.id,
      region: "us-south",
      repository: "birds/gone",
      tag: "1",
    });
    const id = rid();
    const res = await A().image.rm.mutate({ images: ["birds/gone:1", "birds/gone:2"] }, on(id));
    expect(res.removed).toEqual([{ image: "birds/gone:1", digest: gone.digest, tags: ["1"] }]);
    expect(res.results.map((r) => [r.target, r.ok, r.error?.code])).toEqual([
      ["birds/gone:1", true, undefined],
      ["birds/gone:2", false, "NOT_FOUND"],
    ]);
    const events = await env.events(id);
    expect(events).toHaveLength(2);
    checkEvent(events[0], id, {
      action: "container-registry.image.rm",
      outcome: "success",
      severity: "critical",
      reasonCode: 200,
      who: env.alice,
      targetType: "image",
      targetName: "birds/gone:1",
      crnResource: `birds/gone@${gone.digest}`,
      message: "Container Registry: remove image birds/gone:1",
    });
    checkEvent(events[1], id, {
      action: "container-registry.image.rm",
      outcome: "failure",
      severity: "warning",
      reasonCode: 404,
      who: env.alice,
      targetType: "image",
      targetName: "birds/gone:2",
    });
  });

  it("fails with 404 when no image exists; no tag means latest", async () => {
    const id = rid();
    const error = await rejects(A().image.rm.mutate({ images: ["birds/robin"] }, on(id)));
    expect(errorInfo(error).code).toBe("NOT_FOUND");
    await expectOneEvent(env, id, {
      action: "container-registry.image.rm",
      outcome: "failure",
      severity: "warning",
      reasonCode: 404,
      who: env.alice,
      targetType: "image",
      targetName: "birds/robin:latest",
    });
    // The image under its real tag is untouched.
    expect((await A().image.inspect.query({ image: "birds/robin:1" })).digest).toBe(robin.digest);
  });

  it("fails with 400 for an empty list", async () => {
    const id = rid();
    expect(errorInfo(await rejects(A().image.rm.mutate({ images: [] }, on(id)))).code).toBe(
      "BAD_REQUEST",
    );
    await expectOneEvent(env, id, {
      action: "container-registry.image.rm",
      outcome: "failure",
      severity: "warning",
      reasonCode: 400,
      who: env.alice,
      targetType: "image",
      targetName: "invalid",
    });
  });
});

describe("quota.get and quota.set", () => {
  it("quota.get succeeds with usage and limits", async () => {
    const id = rid();
    const quota = await A().quota.get.query(undefined, on(id));
    expect(quota.plan).toBe("lite");
    expect(quota.usage.storageBytes).toBeGreaterThanOrEqual(robin.totalSize);
    expect(quota.limits.storageBytes).toBe(512 * 1024 * 1024);
    await expectOneEvent(env, id, {
      action: "container-registry.quota.get",
      outcome: "success",
      severity: "normal",
      reasonCode: 200,
      who: env.alice,
      targetType: "quota",
      targetName: env.alice.account.id,
    });
  });

  it("quota.get fails with a 500 event when the database fails", async () => {
    const id = rid();
    const error = await withTableGone("quotas", () =>
      rejects(A().quota.get.query(undefined, on(id))),
    );
    expect(errorInfo(error).code).toBe("INTERNAL_SERVER_ERROR");
    await expectOneEvent(env, id, {
      action: "container-registry.quota.get",
      outcome: "failure",
      severity: "warning",
      reasonCode: 500,
      who: env.alice,
      targetType: "quota",
      targetName: env.alice.account.id,
    });
  });

  it("quota.set succeeds in MB with a warning event", async () => {
    const id = rid();
    const res = await A().quota.set.mutate({ storageMb: 200, trafficMb: 1000 }, on(id));
    expect(res.quotas).toEqual({ storageMb: 200, trafficMb: 1000 });
    const event = await expectOneEvent(env, id, {
      action: "container-registry.quota.set",
      outcome: "success",
      severity: "warning",
      reasonCode: 200,
      who: env.alice,
      targetType: "quota",
      targetName: env.alice.account.id,
    });
    expect(event.requestData).toEqual({ storageMb: 200, trafficMb: 1000 });
  });

  it("quota.set fails above the lite cap (403 critical) and on bad values (400)", async () => {
    const id = rid();
    const error = await rejects(A().quota.set.mutate({ storageMb: 600 }, on(id)));
    expect(errorInfo(error)).toEqual({
      code: "FORBIDDEN",
      httpStatus: 403,
      berthCode: "PLAN_LIMIT",
    });
    expect(error.message).toMatch(/512 MB/);
    await expectOneEvent(env, id, {
      action: "container-registry.quota.set",
      outcome: "failure",
      severity: "critical",
      reasonCode: 403,
      who: env.alice,
      targetType: "quota",
      targetName: env.alice.account.id,
    });
    const bad = rid();
    expect(errorInfo(await rejects(A().quota.set.mutate({ storageMb: -5 }, on(bad)))).code).toBe(
      "BAD_REQUEST",
    );
    await expectOneEvent(env, bad, {
      action: "container-registry.quota.set",
      outcome: "failure",
      severity: "warning",
      reasonCode: 400,
      who: env.alice,
      targetType: "quota",
      targetName: env.alice.account.id,
    });
    expect((await A().quota.get.query()).quotas).toEqual({ storageMb: 200, trafficMb: 1000 });
  });
});

describe("registry tokens", () => {
  it("registrytoken.create succeeds with a critical 201 event that holds no secret", async () => {
    const id = rid();
    const token = await A().registrytoken.create.mutate({ description: "ci" }, on(id));
    expect(token).toMatchObject({ access: "read", username: "token", description: "ci" });
    expect(token.secret.length).toBeGreaterThan(30);
    const event = await expectOneEvent(env, id, {
      action: "container-registry.registrytoken.create",
      outcome: "success",
      severity: "critical",
      reasonCode: 201,
      who: env.alice,
      targetType: "registrytoken",
      targetName: token.id,
    });
    expect(event.responseData).toEqual({ tokenId: token.id, expiresAt: token.expiresAt });
    expect(JSON.stringify(event)).not.toContain(token.secret);
  });

  it("registrytoken.create fails with 400 on an unknown access level", async () => {
    const id = rid();
    const error = await rejects(
      A().registrytoken.create.mutate({ access: "admin" as never }, on(id)),
    );
    expect(errorInfo(error).code).toBe("BAD_REQUEST");
    const [found] = await env.events(id);
    expect(found?.event.target.name).toMatch(/^[0-9a-f-]{36}$/);
    await expectOneEvent(env, id, {
      action: "container-registry.registrytoken.create",
      outcome: "failure",
      severity: "warning",
      reasonCode: 400,
      who: env.alice,
      targetType: "registrytoken",
      targetName: found!.event.target.name,
    });
  });

  it("registrytoken.get and list succeed; get fails with 404 and 400", async () => {
    const token = await A().registrytoken.create.mutate({ access: "readwrite", nonExpiring: true });
    const id = rid();
    const got = await A().registrytoken.get.query({ id: token.id }, on(id));
    expect(got).toMatchObject({ id: token.id, access: "readwrite", expiresAt: null });
    await expectOneEvent(env, id, {
      action: "container-registry.registrytoken.get",
      outcome: "success",
      severity: "normal",
      reasonCode: 200,
      who: env.alice,
      targetType: "registrytoken",
      targetName: token.id,
    });
    const listId = rid();
    expect((await A().registrytoken.list.query(undefined, on(listId))).map((t) => t.id)).toContain(
      token.id,
    );
    await expectOneEvent(env, listId, {
      action: "container-registry.registrytoken.list",
      outcome: "success",
      severity: "normal",
      reasonCode: 200,
      who: env.alice,
      targetType: "account",
      targetName: env.alice.account.id,
    });
    const missing = "0190a5c4-0000-7000-8000-000000000000";
    const notFound = rid();
    expect(
      errorInfo(await rejects(A().registrytoken.get.query({ id: missing }, on(notFound)))).code,
    ).toBe("NOT_FOUND");
    await expectOneEvent(env, notFound, {
      action: "container-registry.registrytoken.get",
      outcome: "failure",
      severity: "warning",
      reasonCode: 404,
      who: env.alice,
      targetType: "registrytoken",
      targetName: missing,
    });
    const bad = rid();
    expect(
      errorInfo(await rejects(A().registrytoken.get.query({ id: "not-a-uuid" }, on(bad)))).code,
    ).toBe("BAD_REQUEST");
    await expectOneEvent(env, bad, {
      action: "container-registry.registrytoken.get",
      outcome: "failure",
      severity: "warning",
      reasonCode: 400,
      who: env.alice,
      targetType: "registrytoken",
      targetName: "not-a-uuid",
    });
  });

  it("registrytoken.list fails with a 500 event when the database fails", async () => {
    const id = rid();
    const error = await withTableGone("registry_tokens", () =>
      rejects(A().registrytoken.list.query(undefined, on(id))),
    );
    expect(errorInfo(error).code).toBe("INTERNAL_SERVER_ERROR");
    await expectOneEvent(env, id, {
      action: "container-registry.registrytoken.list",
      outcome: "failure",
      severity: "warning",
      reasonCode: 500,
      who: env.alice,
      targetType: "account",
      targetName: env.alice.account.id,
    });
  });

  it("registrytoken.delete succeeds (critical) and fails with 404 once gone", async () => {
    const token = await A().registrytoken.create.mutate({});
    const id = rid();
    expect(await A().registrytoken.delete.mutate({ id: token.id }, on(id))).toEqual({
      id: token.id,
    });
    await expectOneEvent(env, id, {
      action: "container-registry.registrytoken.delete",
      outcome: "success",
      severity: "critical",
      reasonCode: 200,
      who: env.alice,
      targetType: "registrytoken",
      targetName: token.id,
    });
    const again = rid();
    expect(
      errorInfo(await rejects(A().registrytoken.delete.mutate({ id: token.id }, on(again)))).code,
    ).toBe("NOT_FOUND");
    await expectOneEvent(env, again, {
      action: "container-registry.registrytoken.delete",
      outcome: "failure",
      severity: "warning",
      reasonCode: 404,
      who: env.alice,
      targetType: "registrytoken",
      targetName: token.id,
    });
  });

  it("registrytokens.delete writes one event per token; all missing fails", async () => {
    const t1 = await A().registrytoken.create.mutate({});
    const t2 = await A().registrytoken.create.mutate({});
    const missing = "0190a5c4-0000-7000-8000-00000000abcd";
    const id = rid();
    const res = await A().registrytokens.delete.mutate({ ids: [t1.id, missing, t2.id] }, on(id));
    expect(res.deleted).toEqual([t1.id, t2.id]);
    const events = await env.events(id);
    expect(events.map((e) => [e.event.target.name, e.event.outcome])).toEqual([
      [t1.id, "success"],
      [missing, "failure"],
      [t2.id, "success"],
    ]);
    for (const [i, name] of [t1.id, missing, t2.id].entries()) {
      const failed = name === missing;
      checkEvent(events[i], id, {
        action: "container-registry.registrytokens.delete",
        outcome: failed ? "failure" : "success",
        severity: failed ? "warning" : "critical",
        reasonCode: failed ? 404 : 200,
        who: env.alice,
        targetType: "registrytoken",
        targetName: name,
      });
    }
    expect((await A().registrytoken.list.query()).map((t) => t.id)).not.toContain(t1.id);
    const none = rid();
    const error = await rejects(
      A().registrytokens.delete.mutate({ ids: [t1.id, t2.id] }, on(none)),
    );
    expect(errorInfo(error).code).toBe("NOT_FOUND");
    expect(
      (await env.events(none)).map((e) => [e.event.outcome, e.event.reason.reasonCode]),
    ).toEqual([
      ["failure", 404],
      ["failure", 404],
    ]);
  });
});

describe("exemptions", () => {
  const cve = { scope: "birds/robin", issueType: "cve", issueId: "CVE-2018-17929" } as const;

  it("exemption.create succeeds with a 201 warning event", async () => {
    const id = rid();
    const res = await A().exemption.create.mutate(cve, on(id));
    expect(res).toMatchObject(cve);
    await expectOneEvent(env, id, {
      action: "container-registry.exemption.create",
      outcome: "success",
      severity: "warning",
      reasonCode: 201,
      who: env.alice,
      targetType: "exemption",
      targetName: "birds/robin/cve/CVE-2018-17929",
      message: "Container Registry: create exemption CVE-2018-17929 for birds/robin",
    });
  });

  it("exemption.create fails with 409 when it exists, 400 on a bad issue, 404 on another's namespace", async () => {
    const dup = rid();
    expect(errorInfo(await rejects(A().exemption.create.mutate(cve, on(dup)))).code).toBe(
      "CONFLICT",
    );
    await expectOneEvent(env, dup, {
      action: "container-registry.exemption.create",
      outcome: "failure",
      severity: "warning",
      reasonCode: 409,
      who: env.alice,
      targetType: "exemption",
      targetName: "birds/robin/cve/CVE-2018-17929",
    });
    const bad = rid();
    const badInput = { scope: "birds", issueType: "cve", issueId: "NOT-A-CVE" } as const;
    expect(errorInfo(await rejects(A().exemption.create.mutate(badInput, on(bad)))).code).toBe(
      "BAD_REQUEST",
    );
    await expectOneEvent(env, bad, {
      action: "container-registry.exemption.create",
      outcome: "failure",
      severity: "warning",
      reasonCode: 400,
      who: env.alice,
      targetType: "exemption",
      targetName: "birds/cve/NOT-A-CVE",
    });
    const foreign = rid();
    const foreignInput = { scope: "bobsns", issueType: "cve", issueId: "CVE-2019-1000" } as const;
    expect(
      errorInfo(await rejects(A().exemption.create.mutate(foreignInput, on(foreign)))).code,
    ).toBe("NOT_FOUND");
    await expectOneEvent(env, foreign, {
      action: "container-registry.exemption.create",
      outcome: "failure",
      severity: "warning",
      reasonCode: 404,
      who: env.alice,
      targetType: "exemption",
      targetName: "bobsns/cve/CVE-2019-1000",
    });
  });

  it("exemption.list is not audited and filters by scope", async () => {
    const id = rid();
    const list = await A().exemption.list.query({ scope: "birds/robin:1" }, on(id));
    expect(list.map((e) => e.issueId)).toEqual(["CVE-2018-17929"]);
    expect(await A().exemption.list.query({ scope: "birds/wren:1" })).toEqual([]);
    expect(await env.events(id)).toEqual([]);
  });

  it("exemption.delete succeeds with a warning event and fails with 404 once gone", async () => {
    const id = rid();
    await A().exemption.delete.mutate(cve, on(id));
    await expectOneEvent(env, id, {
      action: "container-registry.exemption.delete",
      outcome: "success",
      severity: "warning",
      reasonCode: 200,
      who: env.alice,
      targetType: "exemption",
      targetName: "birds/robin/cve/CVE-2018-17929",
    });
    const again = rid();
    expect(errorInfo(await rejects(A().exemption.delete.mutate(cve, on(again)))).code).toBe(
      "NOT_FOUND",
    );
    await expectOneEvent(env, again, {
      action: "container-registry.exemption.delete",
      outcome: "failure",
      severity: "warning",
      reasonCode: 404,
      who: env.alice,
      targetType: "exemption",
      targetName: "birds/robin/cve/CVE-2018-17929",
    });
  });
});

describe("plan.get and plan.set", () => {
  it("plan.get succeeds, and fails with a 500 event when the database fails", async () => {
    const id = rid();
    expect(await A().plan.get.query(undefined, on(id))).toMatchObject({
      plan: "lite",
      region: "us-south",
    });
    await expectOneEvent(env, id, {
      action: "container-registry.plan.get",
      outcome: "success",
      severity: "normal",
      reasonCode: 200,
      who: env.alice,
      targetType: "plan",
      targetName: env.alice.account.id,
    });
    const broken = rid();
    const error = await withTableGone("plans", () =>
      rejects(A().plan.get.query(undefined, on(broken))),
    );
    expect(errorInfo(error).code).toBe("INTERNAL_SERVER_ERROR");
    await expectOneEvent(env, broken, {
      action: "container-registry.plan.get",
      outcome: "failure",
      severity: "warning",
      reasonCode: 500,
      who: env.alice,
      targetType: "plan",
      targetName: env.alice.account.id,
    });
  });

  it("plan.set upgrades with a warning event, then refuses to downgrade (400)", async () => {
    const id = rid();
    expect(await A().plan.set.mutate({ plan: "standard" }, on(id))).toMatchObject({
      plan: "standard",
      changed: true,
    });
    await expectOneEvent(env, id, {
      action: "container-registry.plan.set",
      outcome: "success",
      severity: "warning",
      reasonCode: 200,
      who: env.alice,
      targetType: "plan",
      targetName: env.alice.account.id,
      message: "Container Registry: set plan standard",
    });
    const down = rid();
    const error = await rejects(A().plan.set.mutate({ plan: "lite" }, on(down)));
    expect(errorInfo(error).code).toBe("BAD_REQUEST");
    expect(error.message).toMatch(/only be upgraded/);
    await expectOneEvent(env, down, {
      action: "container-registry.plan.set",
      outcome: "failure",
      severity: "warning",
      reasonCode: 400,
      who: env.alice,
      targetType: "plan",
      targetName: env.alice.account.id,
    });
    // Now above the old cap is fine.
    expect((await A().quota.set.mutate({ storageMb: 600 })).quotas.storageMb).toBe(600);
  });
});

describe("unauthenticated calls", () => {
  it("are refused with 401 and write no event", async () => {
    const before = await env.t.db.execute<{ n: string }>(sql`select count(*) as n from outbox`);
    for (const client of [
      env.client({}),
      env.client({ apiKey: "berth_ak_not-a-real-key-000000000" }),
    ]) {
      const id = rid();
      const error = await rejects(client.namespace.create.mutate({ name: "sneaky" }, on(id)));
      expect(errorInfo(error)).toMatchObject({ code: "UNAUTHORIZED", httpStatus: 401 });
      expect(await env.events(id)).toEqual([]);
    }
    const after = await env.t.db.execute<{ n: string }>(sql`select count(*) as n from outbox`);
    expect(Number(after[0]!.n)).toBe(Number(before[0]!.n));
  });
});
