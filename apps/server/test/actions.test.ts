// Every tRPC action: a success and failures, each with its exact event in the outbox. Most
// cases are one call and one event: rows of a table (`it.each`), run in order, since later
// rows use what earlier ones made. Calls that write several events are tests of their own.
// Over 400 lines: every action shares one server and its state (the rows build on each
// other), so they stay in one file rather than a file per router.

import type { AtEvent } from "@berth/core";
import type { CreatedAccount } from "@berth/registry";
import type { TestImage } from "@berth/registry/testing";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { checkEvent, type ExpectedEvent, expectOneEvent } from "./expect-events";
import { errorInfo, forFile, on, rejects, rid, startTestServer } from "./helpers";

const env = await forFile(startTestServer());
let robin: TestImage;
const A = () => env.client(env.alice);
const B = () => env.client(env.bob);

beforeAll(async () => {
  await A().namespace.create.mutate({ name: "birds" });
  await B().namespace.create.mutate({ name: "bobsns" });
  robin = await env.image(env.alice, "birds/robin");
});

/** Make a table unreachable for the duration of `fn`: a real database failure, no mocks. */
async function withTableGone<T>(table: string, fn: () => Promise<T>): Promise<T> {
  await env.t.db.execute(sql.raw(`alter table ${table} rename to ${table}_gone`));
  try {
    return await fn();
  } finally {
    await env.t.db.execute(sql.raw(`alter table ${table}_gone rename to ${table}`));
  }
}

/** The event's fields a row names; the action is the row's, the caller alice unless `who`. */
type EventFields = Omit<ExpectedEvent, "action" | "who"> & { who?: CreatedAccount };

/** What a row's checks get: its request id, what its `before` made and the call's answer. */
interface Got<R, C> {
  id: string;
  ctx: C;
  /** The answer (undefined when the call was refused). */
  res: R | undefined;
}

/** One call and its one event. */
interface Row<R, C> {
  title: string;
  /** The tRPC procedure; the event's action is `container-registry.<action>`. */
  action: string;
  before?: () => Promise<C>;
  call: (id: string, ctx: C) => Promise<R>;
  /** The call must fail with these (its errorInfo matches them). */
  refused?: Partial<ReturnType<typeof errorInfo>>;
  /** The refusal's message: equal to a string, or matching a pattern. */
  message?: string | RegExp;
  /** Checks of a successful call's answer. */
  answer?: (res: R, ctx: C) => void | Promise<void>;
  /** The event's fields (a function: rows are made before the server starts). */
  event: (got: Got<R, C>) => EventFields | Promise<EventFields>;
  /** More checks of the event (request/response data, reason, no secret). */
  andEvent?: (event: AtEvent, got: Got<R, C>) => void;
  after?: () => Promise<void>;
}

/** A row as a case of `it.each`: its title (whole in the report) and its run. */
type Case = [title: string, run: () => Promise<void>];

/** Each row is typed on its own (its answer and context), and run as a case like any other. */
function row<R, C = undefined>(r: Row<R, C>): Case {
  return [
    r.title,
    async () => {
      const ctx = (await r.before?.()) as C;
      const id = rid();
      let res: R | undefined;
      if (r.refused) {
        const error = await rejects(r.call(id, ctx));
        expect(errorInfo(error)).toMatchObject(r.refused);
        if (typeof r.message === "string") expect(error.message).toBe(r.message);
        else if (r.message) expect(error.message).toMatch(r.message);
      } else {
        res = await r.call(id, ctx);
        await r.answer?.(res, ctx);
      }
      const got = { id, ctx, res };
      const event = await expectOneEvent(env, id, {
        action: `container-registry.${r.action}`,
        who: env.alice,
        ...(await r.event(got)),
      });
      r.andEvent?.(event, got);
      await r.after?.();
    },
  ];
}

const runCase = (_title: string, run: () => Promise<void>) => run();

/** Outcome, severity and reason code of an event. */
const success = (reasonCode: number, severity: "normal" | "warning" | "critical" = "normal") =>
  ({ outcome: "success", severity, reasonCode }) as const;
const failure = (reasonCode: number, severity: "warning" | "critical" = "warning") =>
  ({ outcome: "failure", severity, reasonCode }) as const;
/** Events of account-wide reads target the account; quota and plan ones name it too. */
const onAccount = (targetType = "account") => ({
  targetType,
  targetName: env.alice.account.id,
});

describe("namespace.create", () => {
  it.each([
    row({
      title: "succeeds with a 201 normal event naming the namespace",
      action: "namespace.create",
      call: (id) => A().namespace.create.mutate({ name: "parrots" }, on(id)),
      answer: (res) => {
        expect(res).toMatchObject({ name: "parrots", region: "us-south" });
        expect(new Date(res.createdAt).toISOString()).toBe(res.createdAt);
      },
      event: () => ({
        ...success(201),
        targetType: "namespace",
        targetName: "parrots",
        message: "Container Registry: create namespace parrots",
      }),
    }),
    row({
      title: "fails on an invalid name with a 400 warning event and a clear message",
      action: "namespace.create",
      call: (id) => A().namespace.create.mutate({ name: "AB" }, on(id)),
      refused: { code: "BAD_REQUEST", httpStatus: 400, berthCode: "BAD_REQUEST" },
      message: /too short/,
      event: () => ({
        ...failure(400),
        targetType: "namespace",
        targetName: "AB",
        message: "Container Registry: create namespace AB -failure",
      }),
      andEvent: (event) => expect(event.reason.reasonForFailure).toMatch(/too short/),
    }),
    row({
      title: "fails on input that is not even an object, still audited",
      action: "namespace.create",
      call: (id) => A().namespace.create.mutate(undefined as never, on(id)),
      refused: { code: "BAD_REQUEST" },
      event: () => ({ ...failure(400), targetType: "namespace", targetName: "invalid" }),
    }),
    row({
      title: "fails with 409 when the name is taken in the region, by any account",
      action: "namespace.create",
      call: (id) => B().namespace.create.mutate({ name: "birds" }, on(id)),
      refused: { code: "CONFLICT", httpStatus: 409 },
      event: () => ({
        ...failure(409),
        who: env.bob,
        targetType: "namespace",
        targetName: "birds",
      }),
    }),
  ])("%s", runCase);
});

describe("namespace.list", () => {
  it.each([
    row({
      title: "succeeds with an account-targeted event",
      action: "namespace.list",
      call: (id) => A().namespace.list.query(undefined, on(id)),
      answer: (list) => {
        expect(list.items.map((n) => n.name)).toEqual(expect.arrayContaining(["birds", "parrots"]));
        expect(list.items.find((n) => n.name === "birds")).toMatchObject({
          repositories: 1,
          images: 1,
        });
      },
      event: () => ({
        ...success(200),
        ...onAccount(),
        message: "Container Registry: list namespaces",
      }),
    }),
    row({
      title: "fails with a 500 event when the database fails, without leaking details",
      action: "namespace.list",
      call: (id) => withTableGone("namespaces", () => A().namespace.list.query(undefined, on(id))),
      refused: { code: "INTERNAL_SERVER_ERROR", httpStatus: 500 },
      message: "internal error",
      event: () => ({ ...failure(500), ...onAccount() }),
      andEvent: (event) => expect(event.reason.reasonForFailure).toBe("internal error"),
    }),
  ])("%s", runCase);
});

describe("namespace.delete", () => {
  it.each([
    row({
      title: "succeeds with a critical event",
      action: "namespace.delete",
      before: async () => {
        await A().namespace.create.mutate({ name: "doomed" });
      },
      call: (id) => A().namespace.delete.mutate({ name: "doomed" }, on(id)),
      answer: (res) => expect(res).toMatchObject({ name: "doomed", repositories: 0, images: 0 }),
      event: () => ({
        ...success(200, "critical"),
        targetType: "namespace",
        targetName: "doomed",
        message: "Container Registry: delete namespace doomed",
      }),
    }),
    row({
      title: "fails with 404 for a namespace the caller does not have",
      action: "namespace.delete",
      call: (id) => A().namespace.delete.mutate({ name: "nowhere" }, on(id)),
      refused: { code: "NOT_FOUND", httpStatus: 404 },
      event: () => ({ ...failure(404), targetType: "namespace", targetName: "nowhere" }),
    }),
  ])("%s", runCase);
});

describe("image.list", () => {
  it.each([
    row({
      title: "succeeds with the account's tagged images",
      action: "image.list",
      call: (id) => A().image.list.query({ namespace: "birds" }, on(id)),
      answer: (list) =>
        expect(list.items).toContainEqual(
          expect.objectContaining({
            image: "birds/robin:1",
            digest: robin.digest,
            size: robin.totalSize,
          }),
        ),
      event: () => ({ ...success(200), ...onAccount() }),
      andEvent: (event) => expect(event.requestData).toEqual({ namespace: "birds" }),
    }),
    row({
      title: "fails with 404 when filtering on a namespace that is not the caller's",
      action: "image.list",
      call: (id) => A().image.list.query({ namespace: "bobsns" }, on(id)),
      refused: { code: "NOT_FOUND" },
      event: () => ({ ...failure(404), ...onAccount() }),
    }),
    row({
      title: "fails with 400 on an invalid filter",
      action: "image.list",
      call: (id) => A().image.list.query({ repository: "no-namespace" }, on(id)),
      refused: { code: "BAD_REQUEST" },
      event: () => ({ ...failure(400), ...onAccount() }),
    }),
  ])("%s", runCase);
});

describe("image.inspect", () => {
  it.each([
    row({
      title: "succeeds; the target names the image as requested and by digest in its CRN",
      action: "image.inspect",
      call: (id) => A().image.inspect.query({ image: "birds/robin:1" }, on(id)),
      answer: (details) =>
        expect(details).toMatchObject({ digest: robin.digest, tags: ["1"], config: robin.config }),
      event: () => ({
        ...success(200),
        targetType: "image",
        targetName: "birds/robin:1",
        crnResource: `birds/robin@${robin.digest}`,
        message: "Container Registry: inspect image birds/robin:1",
      }),
    }),
    row({
      title: "fails with 404 for a missing tag",
      action: "image.inspect",
      call: (id) => A().image.inspect.query({ image: "birds/robin:nope" }, on(id)),
      refused: { code: "NOT_FOUND" },
      event: () => ({ ...failure(404), targetType: "image", targetName: "birds/robin:nope" }),
    }),
    row({
      title: "fails with 400 for a bad reference",
      action: "image.inspect",
      call: (id) => A().image.inspect.query({ image: "Birds/Robin" }, on(id)),
      refused: { code: "BAD_REQUEST" },
      event: () => ({ ...failure(400), targetType: "image", targetName: "Birds/Robin" }),
    }),
  ])("%s", runCase);
});

describe("image.tag", () => {
  it.each([
    row({
      title: "succeeds across repositories; the event names the new tag",
      action: "image.tag",
      call: (id) =>
        A().image.tag.mutate({ source: "birds/robin:1", target: "parrots/robin:copy" }, on(id)),
      answer: (res) =>
        expect(res).toEqual({
          source: "birds/robin:1",
          target: "parrots/robin:copy",
          digest: robin.digest,
        }),
      event: () => ({
        ...success(200),
        targetType: "image",
        targetName: "parrots/robin:copy",
        crnResource: `parrots/robin@${robin.digest}`,
      }),
      andEvent: (event) =>
        expect(event.requestData).toEqual({
          source: "birds/robin:1",
          target: "parrots/robin:copy",
        }),
    }),
    row({
      title: "fails with 404 when the source does not exist",
      action: "image.tag",
      call: (id) =>
        A().image.tag.mutate({ source: "birds/robin:ghost", target: "birds/robin:new" }, on(id)),
      refused: { code: "NOT_FOUND" },
      event: () => ({ ...failure(404), targetType: "image", targetName: "birds/robin:new" }),
    }),
    row({
      title: "fails with 400 when the new tag is missing",
      action: "image.tag",
      call: (id) =>
        A().image.tag.mutate({ source: "birds/robin:1", target: "birds/other" }, on(id)),
      refused: { code: "BAD_REQUEST" },
      event: () => ({ ...failure(400), targetType: "image", targetName: "birds/other" }),
    }),
  ])("%s", runCase);
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
        ...success(200, "warning"),
        who: env.alice,
        targetType: "image",
        targetName: `birds/robin:${tag}`,
        crnResource: `birds/robin@${robin.digest}`,
      });
    }
  });

  it.each([
    row({
      title: "fails with 400 without an explicit tag",
      action: "image.untag",
      call: (id) => A().image.untag.mutate({ images: ["birds/robin"] }, on(id)),
      refused: { code: "BAD_REQUEST" },
      event: () => ({ ...failure(400), targetType: "image", targetName: "birds/robin" }),
    }),
    row({
      title: "fails with 404 for a missing tag",
      action: "image.untag",
      call: (id) => A().image.untag.mutate({ images: ["birds/robin:zzz"] }, on(id)),
      refused: { code: "NOT_FOUND" },
      event: () => ({ ...failure(404), targetType: "image", targetName: "birds/robin:zzz" }),
    }),
  ])("%s", runCase);
});

describe("image.rm", () => {
  it("succeeds with a critical event per image; missing ones fail on their own", async () => {
    const gone = await env.image(env.alice, "birds/gone");
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
      ...success(200, "critical"),
      who: env.alice,
      targetType: "image",
      targetName: "birds/gone:1",
      crnResource: `birds/gone@${gone.digest}`,
      message: "Container Registry: remove image birds/gone:1",
    });
    checkEvent(events[1], id, {
      action: "container-registry.image.rm",
      ...failure(404),
      who: env.alice,
      targetType: "image",
      targetName: "birds/gone:2",
    });
  });

  it.each([
    row({
      title: "fails with 404 when no image exists; no tag means latest",
      action: "image.rm",
      call: (id) => A().image.rm.mutate({ images: ["birds/robin"] }, on(id)),
      refused: { code: "NOT_FOUND" },
      event: () => ({ ...failure(404), targetType: "image", targetName: "birds/robin:latest" }),
      // The image under its real tag is untouched.
      after: async () =>
        expect((await A().image.inspect.query({ image: "birds/robin:1" })).digest).toBe(
          robin.digest,
        ),
    }),
    row({
      title: "fails with 400 for an empty list",
      action: "image.rm",
      call: (id) => A().image.rm.mutate({ images: [] }, on(id)),
      refused: { code: "BAD_REQUEST" },
      event: () => ({ ...failure(400), targetType: "image", targetName: "invalid" }),
    }),
  ])("%s", runCase);
});

describe("quota.get and quota.set", () => {
  it.each([
    row({
      title: "quota.get succeeds with usage and limits",
      action: "quota.get",
      call: (id) => A().quota.get.query(undefined, on(id)),
      answer: (quota) => {
        expect(quota.plan).toBe("lite");
        expect(quota.usage.storageBytes).toBeGreaterThanOrEqual(robin.totalSize);
        expect(quota.limits.storageBytes).toBe(512 * 1024 * 1024);
      },
      event: () => ({ ...success(200), ...onAccount("quota") }),
    }),
    row({
      title: "quota.get fails with a 500 event when the database fails",
      action: "quota.get",
      call: (id) => withTableGone("quotas", () => A().quota.get.query(undefined, on(id))),
      refused: { code: "INTERNAL_SERVER_ERROR" },
      event: () => ({ ...failure(500), ...onAccount("quota") }),
    }),
    row({
      title: "quota.set succeeds in MB with a warning event",
      action: "quota.set",
      call: (id) => A().quota.set.mutate({ storageMb: 200, trafficMb: 1000 }, on(id)),
      answer: (res) => expect(res.quotas).toEqual({ storageMb: 200, trafficMb: 1000 }),
      event: () => ({ ...success(200, "warning"), ...onAccount("quota") }),
      andEvent: (event) => expect(event.requestData).toEqual({ storageMb: 200, trafficMb: 1000 }),
    }),
    row({
      title: "quota.set fails above the lite cap (403 critical)",
      action: "quota.set",
      call: (id) => A().quota.set.mutate({ storageMb: 600 }, on(id)),
      refused: { code: "FORBIDDEN", httpStatus: 403, berthCode: "PLAN_LIMIT" },
      message: /512 MB/,
      event: () => ({ ...failure(403, "critical"), ...onAccount("quota") }),
    }),
    row({
      title: "quota.set fails on bad values (400), and the quotas stay as they were",
      action: "quota.set",
      call: (id) => A().quota.set.mutate({ storageMb: -5 }, on(id)),
      refused: { code: "BAD_REQUEST" },
      event: () => ({ ...failure(400), ...onAccount("quota") }),
      after: async () =>
        expect((await A().quota.get.query()).quotas).toEqual({ storageMb: 200, trafficMb: 1000 }),
    }),
  ])("%s", runCase);
});

describe("registry tokens", () => {
  const unknownId = "0190a5c4-0000-7000-8000-000000000000";
  const newToken = () => A().registrytoken.create.mutate({});
  const onToken = (targetName: string) => ({ targetType: "registrytoken", targetName });

  it.each([
    row({
      title: "registrytoken.create succeeds with a critical 201 event that holds no secret",
      action: "registrytoken.create",
      call: (id) => A().registrytoken.create.mutate({ description: "ci" }, on(id)),
      answer: (token) => {
        expect(token).toMatchObject({ access: "read", username: "token", description: "ci" });
        expect(token.secret.length).toBeGreaterThan(30);
      },
      event: ({ res }) => ({ ...success(201, "critical"), ...onToken(res!.id) }),
      andEvent: (event, { res }) => {
        expect(event.responseData).toEqual({ tokenId: res!.id, expiresAt: res!.expiresAt });
        expect(JSON.stringify(event)).not.toContain(res!.secret);
      },
    }),
    row({
      title: "registrytoken.create fails with 400 on an unknown access level",
      action: "registrytoken.create",
      call: (id) => A().registrytoken.create.mutate({ access: "admin" as never }, on(id)),
      refused: { code: "BAD_REQUEST" },
      event: async ({ id }) => {
        const [found] = await env.events(id);
        expect(found?.event.target.name).toMatch(/^[0-9a-f-]{36}$/);
        return { ...failure(400), ...onToken(found!.event.target.name) };
      },
    }),
    row({
      title: "registrytoken.get succeeds",
      action: "registrytoken.get",
      before: () => A().registrytoken.create.mutate({ access: "readwrite", nonExpiring: true }),
      call: (id, token) => A().registrytoken.get.query({ id: token.id }, on(id)),
      answer: (got, token) =>
        expect(got).toMatchObject({ id: token.id, access: "readwrite", expiresAt: null }),
      event: ({ ctx: token }) => ({ ...success(200), ...onToken(token.id) }),
    }),
    row({
      title: "registrytoken.list succeeds with the account's tokens",
      action: "registrytoken.list",
      before: newToken,
      call: (id) => A().registrytoken.list.query(undefined, on(id)),
      answer: (list, token) => expect(list.items.map((t) => t.id)).toContain(token.id),
      event: () => ({ ...success(200), ...onAccount() }),
    }),
    row({
      title: "registrytoken.get fails with 404 for a token that does not exist",
      action: "registrytoken.get",
      call: (id) => A().registrytoken.get.query({ id: unknownId }, on(id)),
      refused: { code: "NOT_FOUND" },
      event: () => ({ ...failure(404), ...onToken(unknownId) }),
    }),
    row({
      title: "registrytoken.get fails with 400 for an id that is not one",
      action: "registrytoken.get",
      call: (id) => A().registrytoken.get.query({ id: "not-a-uuid" }, on(id)),
      refused: { code: "BAD_REQUEST" },
      event: () => ({ ...failure(400), ...onToken("not-a-uuid") }),
    }),
    row({
      title: "registrytoken.list fails with a 500 event when the database fails",
      action: "registrytoken.list",
      call: (id) =>
        withTableGone("registry_tokens", () => A().registrytoken.list.query(undefined, on(id))),
      refused: { code: "INTERNAL_SERVER_ERROR" },
      event: () => ({ ...failure(500), ...onAccount() }),
    }),
    row({
      title: "registrytoken.delete succeeds (critical)",
      action: "registrytoken.delete",
      before: newToken,
      call: (id, token) => A().registrytoken.delete.mutate({ id: token.id }, on(id)),
      answer: (res, token) => expect(res).toEqual({ id: token.id }),
      event: ({ ctx: token }) => ({ ...success(200, "critical"), ...onToken(token.id) }),
    }),
    row({
      title: "registrytoken.delete fails with 404 once gone",
      action: "registrytoken.delete",
      before: async () => {
        const token = await newToken();
        await A().registrytoken.delete.mutate({ id: token.id });
        return token;
      },
      call: (id, token) => A().registrytoken.delete.mutate({ id: token.id }, on(id)),
      refused: { code: "NOT_FOUND" },
      event: ({ ctx: token }) => ({ ...failure(404), ...onToken(token.id) }),
    }),
  ])("%s", runCase);

  it("registrytokens.delete writes one event per token; all missing fails", async () => {
    const t1 = await newToken();
    const t2 = await newToken();
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
        ...(failed ? failure(404) : success(200, "critical")),
        who: env.alice,
        ...onToken(name),
      });
    }
    expect((await A().registrytoken.list.query()).items.map((t) => t.id)).not.toContain(t1.id);
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
  const onExemption = (targetName: string) => ({ targetType: "exemption", targetName });

  it.each([
    row({
      title: "exemption.create succeeds with a 201 warning event",
      action: "exemption.create",
      call: (id) => A().exemption.create.mutate(cve, on(id)),
      answer: (res) => expect(res).toMatchObject(cve),
      event: () => ({
        ...success(201, "warning"),
        ...onExemption("birds/robin/cve/CVE-2018-17929"),
        message: "Container Registry: create exemption CVE-2018-17929 for birds/robin",
      }),
    }),
    row({
      title: "exemption.create fails with 409 when it exists",
      action: "exemption.create",
      call: (id) => A().exemption.create.mutate(cve, on(id)),
      refused: { code: "CONFLICT" },
      event: () => ({ ...failure(409), ...onExemption("birds/robin/cve/CVE-2018-17929") }),
    }),
    row({
      title: "exemption.create fails with 400 on a bad issue",
      action: "exemption.create",
      call: (id) =>
        A().exemption.create.mutate(
          { scope: "birds", issueType: "cve", issueId: "NOT-A-CVE" },
          on(id),
        ),
      refused: { code: "BAD_REQUEST" },
      event: () => ({ ...failure(400), ...onExemption("birds/cve/NOT-A-CVE") }),
    }),
    row({
      title: "exemption.create fails with 404 on another's namespace",
      action: "exemption.create",
      call: (id) =>
        A().exemption.create.mutate(
          { scope: "bobsns", issueType: "cve", issueId: "CVE-2019-1000" },
          on(id),
        ),
      refused: { code: "NOT_FOUND" },
      event: () => ({ ...failure(404), ...onExemption("bobsns/cve/CVE-2019-1000") }),
    }),
  ])("%s", runCase);

  it("exemption.list is not audited and filters by scope", async () => {
    const id = rid();
    const list = (await A().exemption.list.query({ scope: "birds/robin:1" }, on(id))).items;
    expect(list.map((e) => e.issueId)).toEqual(["CVE-2018-17929"]);
    expect((await A().exemption.list.query({ scope: "birds/wren:1" })).items).toEqual([]);
    expect(await env.events(id)).toEqual([]);
  });

  it.each([
    row({
      title: "exemption.delete succeeds with a warning event",
      action: "exemption.delete",
      call: (id) => A().exemption.delete.mutate(cve, on(id)),
      event: () => ({
        ...success(200, "warning"),
        ...onExemption("birds/robin/cve/CVE-2018-17929"),
      }),
    }),
    row({
      title: "exemption.delete fails with 404 once gone",
      action: "exemption.delete",
      call: (id) => A().exemption.delete.mutate(cve, on(id)),
      refused: { code: "NOT_FOUND" },
      event: () => ({ ...failure(404), ...onExemption("birds/robin/cve/CVE-2018-17929") }),
    }),
  ])("%s", runCase);
});

describe("plan.get and plan.set", () => {
  it.each([
    row({
      title: "plan.get succeeds",
      action: "plan.get",
      call: (id) => A().plan.get.query(undefined, on(id)),
      answer: (plan) => expect(plan).toMatchObject({ plan: "lite", region: "us-south" }),
      event: () => ({ ...success(200), ...onAccount("plan") }),
    }),
    row({
      title: "plan.get fails with a 500 event when the database fails",
      action: "plan.get",
      call: (id) => withTableGone("plans", () => A().plan.get.query(undefined, on(id))),
      refused: { code: "INTERNAL_SERVER_ERROR" },
      event: () => ({ ...failure(500), ...onAccount("plan") }),
    }),
    row({
      title: "plan.set upgrades with a warning event",
      action: "plan.set",
      call: (id) => A().plan.set.mutate({ plan: "standard" }, on(id)),
      answer: (res) => expect(res).toMatchObject({ plan: "standard", changed: true }),
      event: () => ({
        ...success(200, "warning"),
        ...onAccount("plan"),
        message: "Container Registry: set plan standard",
      }),
    }),
    row({
      title: "plan.set refuses to downgrade (400); above the old cap is fine now",
      action: "plan.set",
      call: (id) => A().plan.set.mutate({ plan: "lite" }, on(id)),
      refused: { code: "BAD_REQUEST" },
      message: /only be upgraded/,
      event: () => ({ ...failure(400), ...onAccount("plan") }),
      after: async () =>
        expect((await A().quota.set.mutate({ storageMb: 600 })).quotas.storageMb).toBe(600),
    }),
  ])("%s", runCase);
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
