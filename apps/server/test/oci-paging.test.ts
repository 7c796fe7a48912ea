import { createHash } from "node:crypto";
import { basic, type ReferenceRegistry, startReferenceRegistry, trpc } from "@berth/harness";
import { MAX_PAGE } from "@berth/registry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rid, startTestServer, type TestServer } from "./helpers";

// /v2/_catalog and /v2/<name>/tags/list against the reference registry, side by side: the
// same pushes, the same requests, the same pages and the same links to the next page.

let env: TestServer;
let reference: ReferenceRegistry;

/**
 * Names whose path order (component by component, the reference's) differs from plain
 * bytewise order: "-" and "." sort below "/" bytewise, so a bytewise catalog would put
 * "pagi-x/app" before "pagi/a" and "pagi/a.c" before "pagi/a/b".
 */
const REPOSITORIES = [
  "pagi/z",
  "pagi/a.c",
  "pagi-x/app",
  "pagi/a",
  "pagi_y/app",
  "pagi/a/b",
  "pagi/a-d",
  "pagi/app",
];
const TAGS = ["latest", "1", "10", "2", "A", "b", "v1.0", "v1.0-rc", "_x"];

interface Side {
  name: string;
  url: string;
  auth?: string;
}
let berth: Side;
let ref: Side;

function headers(side: Side, extra: Record<string, string> = {}): Record<string, string> {
  return { ...(side.auth ? { authorization: side.auth } : {}), ...extra };
}

/** A blob by the two-request upload both registries take (POST, then PUT ?digest=). */
async function pushBlob(side: Side, repo: string, bytes: Buffer): Promise<string> {
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  const start = await fetch(`${side.url}/v2/${repo}/blobs/uploads/`, {
    method: "POST",
    headers: headers(side),
  });
  expect(start.status, `${side.name}: upload start in ${repo}`).toBe(202);
  const location = new URL(start.headers.get("location")!, side.url);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, {
    method: "PUT",
    headers: headers(side, { "content-type": "application/octet-stream" }),
    body: bytes,
  });
  expect(put.status, `${side.name}: upload of ${digest} to ${repo}`).toBe(201);
  return digest;
}

async function pushImage(side: Side, repo: string, tags: string[]): Promise<void> {
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", repo }));
  const layer = Buffer.from(`layer of ${repo}`);
  const manifest = JSON.stringify({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: {
      mediaType: "application/vnd.oci.image.config.v1+json",
      digest: await pushBlob(side, repo, config),
      size: config.length,
    },
    layers: [
      {
        mediaType: "application/vnd.oci.image.layer.v1.tar",
        digest: await pushBlob(side, repo, layer),
        size: layer.length,
      },
    ],
  });
  for (const tag of tags) {
    const r = await fetch(`${side.url}/v2/${repo}/manifests/${tag}`, {
      method: "PUT",
      headers: headers(side, { "content-type": "application/vnd.oci.image.manifest.v1+json" }),
      body: manifest,
    });
    expect(r.status, `${side.name}: manifest ${repo}:${tag}: ${await r.clone().text()}`).toBe(201);
  }
}

interface Answer {
  status: number;
  body: unknown;
  /** The Link header as what it means: the target's path, its query as sorted pairs, rel. */
  link: { path: string; query: [string, string][]; rel: string } | null;
}

function parseLink(header: string | null): Answer["link"] {
  if (header === null) return null;
  const m = /^<([^>]+)>;\s*rel="([^"]+)"$/.exec(header);
  expect(m, `a Link header in the RFC 5988 form: ${header}`).not.toBeNull();
  const target = new URL(m![1]!, "http://base.invalid");
  // A relative reference: the client resolves it against the registry it asked.
  expect(m![1]!.startsWith("/v2/"), `Link target is a path: ${header}`).toBe(true);
  return {
    path: target.pathname,
    query: [...target.searchParams.entries()].sort(([a], [b]) => (a < b ? -1 : 1)),
    rel: m![2]!,
  };
}

async function get(side: Side, path: string): Promise<Answer> {
  const r = await fetch(`${side.url}${path}`, { headers: headers(side) });
  const text = await r.text();
  return {
    status: r.status,
    body: text ? JSON.parse(text) : null,
    link: parseLink(r.headers.get("link")),
  };
}

/** Every page from `path` on, following the Link headers (bounded). */
async function walk(side: Side, path: string): Promise<Answer[]> {
  const pages: Answer[] = [];
  let next: string | null = path;
  while (next !== null) {
    const page = await get(side, next);
    pages.push(page);
    expect(pages.length, `${side.name}: pages from ${path}`).toBeLessThanOrEqual(50);
    next = page.link
      ? `${page.link.path}?${new URLSearchParams(page.link.query).toString()}`
      : null;
  }
  return pages;
}

beforeAll(async () => {
  [env, reference] = await Promise.all([startTestServer(), startReferenceRegistry()]);
  berth = { name: "berth", url: env.url(), auth: basic("iamapikey", env.alice.apiKey) };
  ref = { name: "reference", url: reference.url };
  for (const ns of ["pagi", "pagi-x", "pagi_y"]) {
    await trpc(env.url(), env.alice.apiKey, "namespace.create", { name: ns }, rid());
  }
  await trpc(env.url(), env.bob.apiKey, "namespace.create", { name: "bobs" }, rid());
  await pushImage({ ...berth, auth: basic("iamapikey", env.bob.apiKey) }, "bobs/app", ["1"]);
  for (const side of [berth, ref]) {
    for (const repo of REPOSITORIES) {
      await pushImage(side, repo, repo === "pagi/app" ? TAGS : ["1"]);
    }
  }
}, 300_000);

afterAll(async () => {
  await Promise.all([env?.close(), reference?.close()]);
});

describe("catalog paging, side by side with the reference registry", () => {
  it("answers the same whole catalog, in path order", async () => {
    const [b, r] = [await get(berth, "/v2/_catalog"), await get(ref, "/v2/_catalog")];
    expect(b).toEqual(r);
    expect(b.body).toEqual({
      repositories: [
        "pagi/a",
        "pagi/a/b",
        "pagi/a-d",
        "pagi/a.c",
        "pagi/app",
        "pagi/z",
        "pagi-x/app",
        "pagi_y/app",
      ],
    });
  });

  it("answers the same pages and links for every page size, following the links", async () => {
    for (let n = 0; n <= REPOSITORIES.length + 1; n++) {
      const b = await walk(berth, `/v2/_catalog?n=${n}`);
      const r = await walk(ref, `/v2/_catalog?n=${n}`);
      expect(b, `n=${n}`).toEqual(r);
      if (n > 0) {
        expect(b.length, `n=${n}: pages`).toBe(Math.max(1, Math.ceil(REPOSITORIES.length / n)));
      }
      // The link is there exactly when more follows, and carries n and last.
      for (const [i, page] of b.entries()) {
        if (i < b.length - 1) {
          const repos = (page.body as { repositories: string[] }).repositories;
          expect(page.link).toEqual({
            path: "/v2/_catalog",
            query: [
              ["last", repos[repos.length - 1]!],
              ["n", String(n)],
            ],
            rel: "next",
          });
        } else {
          expect(page.link, `n=${n}: no link on the last page`).toBeNull();
        }
      }
    }
  });

  it("answers the same page after any `last`, a name or not", async () => {
    const lasts = [
      "",
      "pagi",
      "pagi/",
      "pagi/a",
      "pagi/a/a",
      "pagi/a0",
      "pagi-w",
      "pagi_y/app",
      "zzz",
      "PAGI",
    ];
    for (const last of lasts) {
      for (const n of [undefined, 1, 2, 3]) {
        const query = new URLSearchParams({ ...(n ? { n: String(n) } : {}), last });
        const path = `/v2/_catalog?${query}`;
        expect(await get(berth, path), path).toEqual(await get(ref, path));
      }
    }
  });

  it("refuses an n that is not a whole number with PAGINATION_NUMBER_INVALID (the reference ignores it)", async () => {
    for (const n of ["-1", "abc", "1.5", "", "1e3", "0x10"]) {
      const r = await get(berth, `/v2/_catalog?n=${encodeURIComponent(n)}`);
      expect(r.status, `n=${n}`).toBe(400);
      expect(r.body, `n=${n}`).toEqual({
        errors: [{ code: "PAGINATION_NUMBER_INVALID", message: "n must be a whole number" }],
      });
    }
    // The reference (distribution 2.8) answers the default page instead: a difference in
    // leniency only, the spec defines no answer for a bad n.
    expect((await get(ref, "/v2/_catalog?n=abc")).status).toBe(200);
  });

  it("caps n at the largest page", async () => {
    const r = await get(berth, `/v2/_catalog?n=${MAX_PAGE * 10}`);
    expect(r.status).toBe(200);
    expect((r.body as { repositories: string[] }).repositories).toHaveLength(REPOSITORIES.length);
  });

  it("pages another account's catalog on its own rows only, whatever `last` it is given", async () => {
    const bob = { name: "bob", url: env.url(), auth: basic("iamapikey", env.bob.apiKey) };
    const only = { status: 200, body: { repositories: ["bobs/app"] }, link: null };
    const none = { status: 200, body: { repositories: [] }, link: null };
    expect(await get(bob, "/v2/_catalog")).toEqual(only);
    expect(await get(bob, "/v2/_catalog?n=1")).toEqual(only);
    expect(await get(bob, "/v2/_catalog?n=5&last=a")).toEqual(only);
    // Alice's names as `last`: after them there is nothing of Bob's, and none of hers.
    expect(await get(bob, "/v2/_catalog?n=1&last=pagi/a")).toEqual(none);
    expect(await get(bob, "/v2/_catalog?n=1&last=bobs/app")).toEqual(none);
  });
});

describe("tag list paging", () => {
  const sorted = [...TAGS].sort();

  it("lists the same tags as the reference, sorted bytewise", async () => {
    const b = await get(berth, "/v2/pagi/app/tags/list");
    const r = await get(ref, "/v2/pagi/app/tags/list");
    expect(b.status).toBe(200);
    expect(r.status).toBe(200);
    // The reference lists them in storage order; the spec asks for lexical order.
    expect([...(r.body as { tags: string[] }).tags].sort()).toEqual(sorted);
    expect(b.body).toEqual({ name: "pagi/app", tags: sorted });
    expect(b.link).toBeNull();
  });

  it("pages n at a time after last with a link to the next page, as the spec says (distribution 2.8 does not page tags)", async () => {
    for (let n = 1; n <= TAGS.length + 1; n++) {
      const pages = await walk(berth, `/v2/pagi/app/tags/list?n=${n}`);
      expect(
        pages.flatMap((p) => (p.body as { tags: string[] }).tags),
        `n=${n}`,
      ).toEqual(sorted);
      expect(pages.length, `n=${n}: pages`).toBe(Math.ceil(TAGS.length / n));
      for (const [i, page] of pages.entries()) {
        const tags = (page.body as { tags: string[] }).tags;
        expect(tags.length, `n=${n}, page ${i}`).toBeLessThanOrEqual(n);
        expect(page.link, `n=${n}, page ${i}`).toEqual(
          i < pages.length - 1
            ? {
                path: "/v2/pagi/app/tags/list",
                query: [
                  ["last", tags[tags.length - 1]!],
                  ["n", String(n)],
                ],
                rel: "next",
              }
            : null,
        );
      }
    }
    const r = await get(ref, "/v2/pagi/app/tags/list?n=2");
    expect((r.body as { tags: string[] }).tags).toHaveLength(TAGS.length);
  });

  it("refuses a bad n with PAGINATION_NUMBER_INVALID", async () => {
    const r = await get(berth, "/v2/pagi/app/tags/list?n=-3");
    expect(r.status).toBe(400);
    expect((r.body as { errors: { code: string }[] }).errors[0]!.code).toBe(
      "PAGINATION_NUMBER_INVALID",
    );
  });

  it("takes any `last`, even bytes no name has, without a server error", async () => {
    for (const last of ["\u0000", "%", "é", "x".repeat(2000), "\u0001"]) {
      for (const path of ["/v2/_catalog", "/v2/pagi/app/tags/list"]) {
        const r = await get(berth, `${path}?${new URLSearchParams({ last })}`);
        expect(r.status, `${path} last=${JSON.stringify(last.slice(0, 10))}`).toBe(200);
      }
    }
    // No name holds a NUL, so what follows "p\0…" is what follows "p".
    const pageAfter = async (path: string, last: string) =>
      (await get(berth, `${path}?${new URLSearchParams({ last })}`)).body;
    expect(await pageAfter("/v2/_catalog", "pagi/a\u0000zz")).toEqual(
      await pageAfter("/v2/_catalog", "pagi/a"),
    );
    expect(await pageAfter("/v2/pagi/app/tags/list", "1\u0000zz")).toEqual(
      await pageAfter("/v2/pagi/app/tags/list", "1"),
    );
  });
});
