import type { BerthClient } from "@berth/client";
import { allPages, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, type Page } from "@berth/core";
import { basic, pushImage, putManifest, randomImage } from "@berth/harness";
import { createAccount } from "@berth/registry";
import { beforeAll, describe, expect, it } from "vitest";
import { errorInfo, forFile, rejects, rid, startTestServer } from "./helpers";

// image.list, namespace.list, registrytoken.list and exemption.list page with an opaque
// cursor over tRPC: every item exactly once across the pages, a cursor the server did not
// write for that list refused as a bad request, and a cursor of another account only a
// position in the caller's own rows.

const env = await forFile(startTestServer());
const A = () => env.client(env.alice);
const B = () => env.client(env.bob);

type Lists = "namespace" | "image" | "registrytoken" | "exemption";
const LISTS: Lists[] = ["namespace", "image", "registrytoken", "exemption"];

/** One page of a list, by name, for the caller. */
function page(
  client: BerthClient,
  list: Lists,
  input: { limit?: number; cursor?: string | null } = {},
): Promise<Page<unknown>> {
  return client[list].list.query(input as never) as Promise<Page<unknown>>;
}

/** A stable name of an item of each list, to compare pages. */
const keyOf: Record<Lists, (item: unknown) => string> = {
  namespace: (i) => (i as { name: string }).name,
  image: (i) => (i as { image: string }).image,
  registrytoken: (i) => (i as { id: string }).id,
  exemption: (i) => {
    const e = i as { scope: string; issueId: string };
    return `${e.scope} ${e.issueId}`;
  },
};

async function keys(client: BerthClient, list: Lists, limit: number): Promise<string[]> {
  const items = await allPages((cursor) => page(client, list, { limit, cursor }));
  return items.map(keyOf[list]);
}

async function pushTagged(who: "alice" | "bob", repo: string, tags: string[]): Promise<void> {
  const auth = basic("iamapikey", env[who].apiKey);
  const image = randomImage([64]);
  await pushImage(env.url(), repo, tags[0]!, image, { auth, requestId: rid() });
  for (const tag of tags.slice(1)) {
    await putManifest(env.url(), repo, tag, image.manifest, { auth, requestId: rid() });
  }
}

// Alice has 7 of each (pages of 3: 3, 3, 1); Bob's names sort among and after hers, so
// a position in Alice's list has Bob's rows after it.
const ALICE_NS = ["pgna0", "pgna1", "pgna2", "pgna3", "pgna4", "pgna5", "pgna6"];
const BOB_NS = ["pgna1b", "pgnb0"];

beforeAll(async () => {
  for (const name of ALICE_NS) await A().namespace.create.mutate({ name });
  for (const name of BOB_NS) await B().namespace.create.mutate({ name });
  await pushTagged("alice", "pgna0/app", ["t0", "t1", "t2", "t3"]);
  await pushTagged("alice", "pgna1/app", ["t0", "t1", "t2"]);
  await pushTagged("bob", "pgna1b/app", ["t0"]);
  await pushTagged("bob", "pgnb0/app", ["t0"]);
  for (let i = 0; i < 7; i++) {
    await A().registrytoken.create.mutate({ description: `alice ${i}` });
    await A().exemption.create.mutate({
      scope: i % 2 ? "pgna0" : "pgna0/app",
      issueType: "cve",
      issueId: `CVE-2020-100${i}`,
    });
  }
  for (let i = 0; i < 2; i++) {
    await B().registrytoken.create.mutate({ description: `bob ${i}` });
    await B().exemption.create.mutate({
      scope: "pgnb0",
      issueType: "cve",
      issueId: `CVE-2020-100${i}`,
    });
  }
}, 120_000);

describe("list pages", () => {
  it.each(LISTS)(
    "%s.list gives every item once across pages of any size, in one order",
    async (list) => {
      const whole = await keys(A(), list, MAX_PAGE_SIZE);
      expect(whole).toHaveLength(7);
      expect(new Set(whole).size).toBe(7);
      for (const limit of [1, 2, 3, 6, 7, 8]) {
        expect(await keys(A(), list, limit), `${list}, limit ${limit}`).toEqual(whole);
      }
      const first = await page(A(), list, { limit: 3 });
      expect(first.items).toHaveLength(3);
      expect(first.nextCursor).toEqual(expect.any(String));
      // The last page says so, also when it is exactly full.
      expect((await page(A(), list, { limit: 7 })).nextCursor).toBeNull();
      expect((await page(A(), list)).nextCursor).toBeNull();
    },
  );

  it("without a limit a page holds the default number of items", async () => {
    const carol = await createAccount(env.t.db, { name: "carol" });
    const C = env.client(carol);
    const made = await Promise.all(
      Array.from({ length: DEFAULT_PAGE_SIZE + 1 }, (_, i) =>
        C.registrytoken.create.mutate({ description: `carol ${i}` }),
      ),
    );
    const first = await C.registrytoken.list.query();
    expect(first.items).toHaveLength(DEFAULT_PAGE_SIZE);
    expect(first.nextCursor).not.toBeNull();
    const rest = await C.registrytoken.list.query({ cursor: first.nextCursor });
    expect(rest.items).toHaveLength(1);
    expect(rest.nextCursor).toBeNull();
    expect([...first.items, ...rest.items].map((t) => t.id).sort()).toEqual(
      made.map((t) => t.id).sort(),
    );
  }, 120_000);

  it("keyset pages: a row added before the position while paging neither repeats nor hides a row", async () => {
    const before = await keys(A(), "namespace", MAX_PAGE_SIZE);
    const first = await page(A(), "namespace", { limit: 3 });
    await A().namespace.create.mutate({ name: "pgna00" });
    try {
      const rest = await allPages(async (cursor) =>
        page(A(), "namespace", { limit: 3, cursor: cursor ?? first.nextCursor }),
      );
      expect([...first.items, ...rest].map(keyOf.namespace)).toEqual(before);
    } finally {
      await A().namespace.delete.mutate({ name: "pgna00" });
    }
  });

  it("exemption.list pages the exemptions that apply to a scope", async () => {
    const whole = (
      await allPages((cursor) =>
        A().exemption.list.query({ scope: "pgna0/app:t1", limit: 2, cursor }),
      )
    ).map(keyOf.exemption);
    expect(whole).toHaveLength(7);
    const nsOnly = await allPages((cursor) =>
      A().exemption.list.query({ scope: "pgna0", limit: 2, cursor }),
    );
    expect(nsOnly.map((e) => e.scope)).toEqual(["pgna0", "pgna0", "pgna0"]);
  });
});

describe("page sizes and cursors at the boundary", () => {
  it.each(LISTS)("%s.list refuses a limit out of range, naming it", async (list) => {
    for (const limit of [0, -1, MAX_PAGE_SIZE + 1, 1.5]) {
      const e = await rejects(page(A(), list, { limit }));
      expect(errorInfo(e).code, `${list} limit ${limit}`).toBe("BAD_REQUEST");
      expect(e.message).toMatch(/^limit: /);
    }
  });

  it.each(LISTS)("%s.list refuses any cursor it did not write, as a bad request", async (list) => {
    const good = (await page(A(), list, { limit: 1 })).nextCursor!;
    const other = LISTS.find((l) => l !== list)!;
    const foreignList = (await page(A(), other, { limit: 1 })).nextCursor!;
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
    const tampered = [
      "",
      "not a cursor",
      `${good}x`,
      good.slice(0, -2),
      good.toUpperCase(),
      foreignList,
      b64({ l: `${list}.list`, k: "x" }),
      b64({ l: `${list}.list`, k: [1, 2, 3] }),
      b64({ l: `${list}.list`, k: [], extra: 1 }),
      b64({ l: `${other}.list`, k: JSON.parse(Buffer.from(good, "base64url").toString()).k }),
      b64({ k: ["a"] }),
      b64(null),
      b64("x".repeat(500)),
      "A".repeat(5000),
      Buffer.from("{not json").toString("base64url"),
      "%00",
    ];
    for (const cursor of tampered) {
      const e = await rejects(page(A(), list, { limit: 2, cursor }));
      const what = `${list} cursor ${JSON.stringify(cursor.slice(0, 40))}`;
      expect(errorInfo(e).code, what).toBe("BAD_REQUEST");
      expect(e.message, what).toBe(
        `cursor: not a cursor of ${list}.list; pass the nextCursor of the previous page unchanged`,
      );
    }
  });

  it("keys of the right shape but no row's (quotes, huge times, unknown ids) are only positions", async () => {
    const b64 = (l: string, k: unknown) =>
      Buffer.from(JSON.stringify({ l, k })).toString("base64url");
    const cases: [Lists, unknown][] = [
      ["namespace", ["pgna2' or '1'='1"]],
      ["image", ["pgna0/app' --", "t1"]],
      ["registrytoken", ["999999999999999999", "00000000-0000-4000-8000-000000000000"]],
      ["registrytoken", ["0", "ffffffff-ffff-4fff-bfff-ffffffffffff"]],
      ["exemption", ["~", "", "00000000-0000-4000-8000-000000000000"]],
    ];
    for (const [list, key] of cases) {
      const p = await page(A(), list, { cursor: b64(`${list}.list`, key) });
      const mine = await keys(A(), list, MAX_PAGE_SIZE);
      for (const item of p.items) expect(mine).toContain(keyOf[list](item));
    }
  });

  it.each(LISTS)("account B with A's cursor of %s.list sees only B's rows", async (list) => {
    const alices = new Set(await keys(A(), list, MAX_PAGE_SIZE));
    const bobs = await keys(B(), list, MAX_PAGE_SIZE);
    expect(bobs.length).toBeGreaterThan(0);
    let cursor = (await page(A(), list, { limit: 1 })).nextCursor;
    expect(cursor).not.toBeNull();
    let seen = 0;
    while (cursor !== null) {
      const p = await page(B(), list, { limit: 1000, cursor });
      const got = p.items.map(keyOf[list]);
      for (const k of got) {
        expect(bobs, `${list}: B's page from A's cursor`).toContain(k);
        expect(alices.has(k) && !bobs.includes(k), `${list}: ${k} is A's`).toBe(false);
      }
      seen += got.length;
      cursor = (await page(A(), list, { limit: 1, cursor })).nextCursor;
    }
    // Bob's names sort after Alice's first: her cursor still leaves him his rows.
    if (list !== "exemption") expect(seen).toBeGreaterThan(0);
  });
});
