// Over 400 lines: one fast-check property per boundary (names, references, digests, paths,
// manifests, ranges, every tRPC procedure), sharing one server and one state fingerprint.
import { MEDIA_TYPES, OCI_ERRORS } from "@berth/core";
import { stateFingerprint } from "@berth/db/testing";
import {
  basic,
  type Image,
  pushImage,
  randomImage,
  sha256,
  successEvents,
  trpc,
} from "@berth/harness";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rid, startTestServer, type TestServer } from "./helpers";

// Hostile input at every HTTP boundary, generated with fast-check: names, references,
// digests, repository paths, manifests, upload ranges and every tRPC procedure's input.
// Whatever arrives gets an answer of the right kind (a 4xx with the surface's error shape
// and a message, never a 5xx), and a refusal changes nothing: the state tables are
// byte-for-byte as before and no success event was written. Run counts are printed.

let env: TestServer;
let url: string;
let fixture: Image;
const runs: Record<string, number> = {};
const RUNS = Number(process.env.BERTH_PROPERTY_RUNS ?? 100);

beforeAll(async () => {
  env = await startTestServer();
  url = env.url();
  // Refusals of a fuzzed account are what is being produced here: not an attack to throttle.
  await trpc(url, env.alice.apiKey, "namespace.create", { name: "props" }, rid());
  fixture = randomImage([2048, 1024]);
  await pushImage(url, "props/app", "1", fixture, {
    auth: basic("iamapikey", env.alice.apiKey),
    requestId: rid(),
  });
});
afterAll(async () => {
  console.log(
    `property runs: ${Object.entries(runs)
      .map(([k, n]) => `${k} ${n}`)
      .join(", ")}`,
  );
  await env?.close();
});

interface Answer {
  status: number;
  body: string;
  headers: Headers;
}

async function send(path: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(`${url}${path}`, init);
  return { status: res.status, body: await res.text(), headers: res.headers };
}

const v2 = () => ({ authorization: basic("iamapikey", env.alice.apiKey) });
const key = () => ({ authorization: `Bearer ${env.alice.apiKey}` });

/** A refusal in the distribution API's shape: an OCI code answered with a 4xx. */
function expectOciRefusal(a: Answer, method: string, what: string): void {
  expect(a.status, `${what}: ${a.body}`).toBeGreaterThanOrEqual(400);
  expect(a.status, `${what}: ${a.body}`).toBeLessThan(500);
  if (method === "HEAD") return;
  const error = (JSON.parse(a.body) as { errors: { code: string; message: string }[] }).errors[0]!;
  expect(Object.keys(OCI_ERRORS), what).toContain(error.code);
  expect(error.message.length, what).toBeGreaterThan(0);
}

const TRPC_REFUSALS = [
  "BAD_REQUEST",
  "NOT_FOUND",
  "CONFLICT",
  "FORBIDDEN",
  "PRECONDITION_FAILED",
  "PAYLOAD_TOO_LARGE",
  "UNSUPPORTED_MEDIA_TYPE",
  "METHOD_NOT_SUPPORTED",
  "UNPROCESSABLE_CONTENT",
];

/** A refusal in tRPC's shape: a client error code with a message. */
function expectTrpcRefusal(a: Answer, what: string): void {
  expect(a.status, `${what}: ${a.body}`).toBeGreaterThanOrEqual(400);
  expect(a.status, `${what}: ${a.body}`).toBeLessThan(500);
  const parsed = JSON.parse(a.body) as
    | { error: { message: string; data: { code: string } } }
    | { error: { message: string; data: { code: string } } }[];
  const error = Array.isArray(parsed) ? parsed[0]!.error : parsed.error;
  expect(TRPC_REFUSALS, what).toContain(error.data.code);
  expect(error.message.length, what).toBeGreaterThan(0);
  expect(error.message, what).not.toBe("internal error");
}

/**
 * Run one generated request: `accept` says when the answer is a legitimate change (then it
 * is undone by `undo` if given); anything else must be a refusal that changed nothing.
 */
async function attempt(
  what: string,
  request: () => Promise<Answer>,
  check: (a: Answer) => void | Promise<void>,
  accept: (a: Answer) => boolean = () => false,
  undo?: (a: Answer) => Promise<void>,
): Promise<void> {
  runs[what] = (runs[what] ?? 0) + 1;
  const before = await stateFingerprint(env.t.sql);
  const events = await successEvents(env.t.sql);
  const a = await request();
  expect(a.status, `${what} answered ${a.status}: ${a.body.slice(0, 300)}`).toBeLessThan(500);
  if (accept(a)) {
    await undo?.(a);
    return;
  }
  await check(a);
  expect(await stateFingerprint(env.t.sql), `${what} changed the state`).toEqual(before);
  expect(await successEvents(env.t.sql), `${what} wrote a success event`).toBe(events);
}

/** Strings that look almost right as often as they look like noise. */
const noise = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.stringMatching(/^[a-zA-Z0-9_.:@/-]{0,40}$/),
  fc.constantFrom(
    "",
    " ",
    "..",
    "/",
    "a//b",
    "%2F",
    "\u0000",
    "\ud800",
    "é",
    "A".repeat(300),
    "-x",
    "x-",
  ),
);

/**
 * encodeURIComponent, except that a lone surrogate (which has no UTF-8, and on which
 * encodeURIComponent throws) is sent as the bytes a WTF-8 client would send.
 */
function encode(s: string): string {
  const wtf8 = (u: number) =>
    [0xe0 | (u >> 12), 0x80 | ((u >> 6) & 63), 0x80 | (u & 63)]
      .map((b) => `%${b.toString(16).toUpperCase()}`)
      .join("");
  return [...s]
    .map((c) => (c.isWellFormed() ? encodeURIComponent(c) : wtf8(c.charCodeAt(0))))
    .join("");
}

const VALID_NAMESPACE = /^[a-z0-9][a-z0-9_-]{2,28}[a-z0-9]$/;

describe("hostile input", () => {
  it("namespace names: valid ones are created, the rest refused as BAD_REQUEST", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(noise, fc.stringMatching(/^[a-z0-9_-]{0,34}$/)), async (name) => {
        await attempt(
          "namespace names",
          () =>
            send("/trpc/namespace.create", {
              method: "POST",
              headers: { ...key(), "content-type": "application/json" },
              body: JSON.stringify({ name }),
            }),
          (a) => {
            expectTrpcRefusal(a, `namespace ${JSON.stringify(name)}`);
            // Only an existing name (the fixture) may be refused for another reason.
            if (name !== "props") expect(a.body).toMatch(/BAD_REQUEST/);
          },
          (a) => {
            if (a.status >= 400) return false;
            // What the server accepted must be a valid name by an independent oracle.
            expect(VALID_NAMESPACE.test(name), `accepted ${JSON.stringify(name)}`).toBe(true);
            return true;
          },
          async () => {
            await trpc(url, env.alice.apiKey, "namespace.delete", { name }, rid());
          },
        );
      }),
      { numRuns: RUNS * 2 },
    );
  }, 180_000);

  it("image references in tRPC: inspect, tag, untag and rm refuse what is malformed or missing", async () => {
    const ref = fc.oneof(
      noise,
      fc
        .tuple(fc.constantFrom("props/app", "props/none", "ghost/app", "props"), noise)
        .map(([r, t]) => `${r}:${t}`),
      noise.map((d) => `props/app@${d}`),
      fc.constantFrom(`props/app@${sha256("nothing")}`, "props/app:2", "PROPS/APP:1"),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("inspect", "tag", "untag", "rm"),
        ref,
        ref,
        async (op, a, b) => {
          // Removing the fixture would be a legitimate success, not the point here.
          fc.pre(!["rm", "untag"].includes(op) || (a !== "props/app:1" && b !== "props/app:1"));
          const input =
            op === "inspect"
              ? { image: a }
              : op === "tag"
                ? { source: a, target: b }
                : { images: [a, b] };
          await attempt(
            `image references (${op})`,
            () =>
              op === "inspect"
                ? send(`/trpc/image.inspect?input=${encodeURIComponent(JSON.stringify(input))}`, {
                    headers: key(),
                  })
                : send(`/trpc/image.${op}`, {
                    method: "POST",
                    headers: { ...key(), "content-type": "application/json" },
                    body: JSON.stringify(input),
                  }),
            (answer) => expectTrpcRefusal(answer, `${op} ${JSON.stringify(input)}`),
            // Inspecting the fixture, or tagging it as something new, is right to succeed.
            (answer) => answer.status < 400 && (op === "inspect" || op === "tag"),
            async () => {
              if (op === "tag" && b !== "props/app:1") {
                await trpc(url, env.alice.apiKey, "image.untag", { images: [b] }, rid());
              }
            },
          );
        },
      ),
      { numRuns: RUNS },
    );
    // The fixture is intact.
    const inspected = await send(
      `/trpc/image.inspect?input=${encodeURIComponent(JSON.stringify({ image: "props/app:1" }))}`,
      { headers: key() },
    );
    expect(inspected.status).toBe(200);
  }, 180_000);

  it("digests and repository paths on /v2: refused with an OCI error, never a 5xx", async () => {
    const digest = fc.oneof(
      noise,
      fc
        .tuple(
          fc.constantFrom("sha256", "sha512", "md5", "SHA256", "sha256+b64"),
          fc.stringMatching(/^[0-9a-fA-F]{0,130}$/),
        )
        .map(([alg, hex]) => `${alg}:${hex}`),
    );
    const repo = fc.oneof(
      fc.constantFrom("props/app", "props/none", "ghost/app", "props"),
      fc.array(noise, { minLength: 1, maxLength: 4 }).map((parts) => parts.join("/")),
    );
    const path = (r: string) => r.split("/").map(encode).join("/");
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          "GET blob",
          "HEAD blob",
          "DELETE blob",
          "GET manifest",
          "HEAD manifest",
          "DELETE manifest",
          "POST upload",
          "POST mount",
          "GET tags",
        ),
        repo,
        digest,
        async (kind, r, d) => {
          // The client itself resolves "." and ".." segments away: not a request to the server.
          fc.pre(!r.split("/").some((s) => s === "." || s === "..") && d !== "." && d !== "..");
          const [method, what] = kind.split(" ") as [string, string];
          const p = path(r);
          const target =
            what === "blob"
              ? `/v2/${p}/blobs/${encode(d)}`
              : what === "manifest"
                ? `/v2/${p}/manifests/${encode(d)}`
                : what === "tags"
                  ? `/v2/${p}/tags/list?last=${encode(d)}`
                  : what === "mount"
                    ? `/v2/${p}/blobs/uploads/?mount=${encode(d)}&from=props/app`
                    : `/v2/${p}/blobs/uploads/?digest=${encode(d)}`;
          await attempt(
            `/v2 digests and paths (${kind})`,
            () =>
              send(target, {
                method,
                headers: v2(),
                ...(what === "upload" ? { body: "some bytes" } : {}),
              }),
            (a) => expectOciRefusal(a, method, `${kind} ${target}`),
            // A mount of an unknown blob starts an upload instead (the spec's fallback); the
            // fixture's tags are there to list, and its tag "1" to pull.
            (a) =>
              (what === "mount" && a.status === 202) ||
              (what === "tags" && a.status === 200) ||
              (what === "manifest" && method !== "DELETE" && a.status === 200),
            async (a) => {
              const location = a.headers.get("location");
              if (location) await fetch(`${url}${location}`, { method: "DELETE", headers: v2() });
            },
          );
        },
      ),
      { numRuns: RUNS * 2 },
    );
  }, 180_000);

  it("manifests: malformed JSON, wrong media types, unknown blobs, nesting and junk are refused", async () => {
    const descriptor = fc.record({
      mediaType: fc.constantFrom(MEDIA_TYPES.ociLayerGzip, MEDIA_TYPES.ociManifest, "x/y", ""),
      digest: fc.oneof(
        fc.constant(sha256("unknown blob")),
        fc.constant(fixture.digest),
        fc.string({ maxLength: 70 }),
      ),
      size: fc.oneof(fc.nat(), fc.integer(), fc.double()),
    });
    const body = fc.oneof(
      fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
      fc.json().map((s) => Buffer.from(s)),
      fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
      fc
        .record({
          schemaVersion: fc.oneof(fc.constant(2), fc.integer()),
          mediaType: fc.oneof(fc.constantFrom(...Object.values(MEDIA_TYPES)), fc.string()),
          config: descriptor,
          layers: fc.array(descriptor, { maxLength: 3 }),
          manifests: fc.array(descriptor, { maxLength: 3 }),
          subject: fc.option(descriptor, { nil: undefined }),
        })
        .map((m) => Buffer.from(JSON.stringify(m))),
      // Nested far deeper than any manifest: arrays, objects, and an index of indexes.
      fc
        .integer({ min: 1000, max: 200_000 })
        .map((n) => Buffer.from(`${"[".repeat(n)}${"]".repeat(n)}`)),
      fc
        .integer({ min: 1000, max: 100_000 })
        .map((n) => Buffer.from(`${'{"manifests":['.repeat(n)}${"]}".repeat(n)}`)),
    );
    const contentType = fc.option(
      fc.oneof(fc.constantFrom(...Object.values(MEDIA_TYPES)), fc.string({ maxLength: 60 })),
      { nil: undefined },
    );
    await fc.assert(
      fc.asyncProperty(body, contentType, noise, async (b, type, tag) => {
        const reference =
          /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag) && tag !== "1" ? tag : "fuzz";
        await attempt(
          "manifests",
          () =>
            send(`/v2/props/app/manifests/${encode(reference)}`, {
              method: "PUT",
              headers: { ...v2(), ...(type !== undefined ? { "content-type": type } : {}) },
              body: b,
            }),
          (a) => expectOciRefusal(a, "PUT", `manifest ${b.subarray(0, 80).toString()}`),
          // Generated by chance, a valid index of the fixture is rightly stored: undone.
          (a) => a.status === 201,
          async (a) => {
            const digest = a.headers.get("docker-content-digest");
            await send(`/v2/props/app/manifests/${digest}`, { method: "DELETE", headers: v2() });
          },
        );
      }),
      { numRuns: RUNS * 2 },
    );
  }, 180_000);

  it("upload ranges: a chunk that does not continue the upload is refused and changes nothing", async () => {
    const start = await send("/v2/props/app/blobs/uploads/", { method: "POST", headers: v2() });
    expect(start.status).toBe(202);
    let location = start.headers.get("location")!;
    const reopen = async () => {
      const again = await send("/v2/props/app/blobs/uploads/", { method: "POST", headers: v2() });
      location = again.headers.get("location")!;
      await send(location, {
        method: "PATCH",
        headers: { ...v2(), "content-range": "0-9" },
        body: "0123456789",
      });
    };
    await send(location, { method: "DELETE", headers: v2() });
    await reopen();
    const range = fc.oneof(
      noise,
      fc
        .tuple(
          fc.oneof(fc.integer({ min: -5, max: 30 }), fc.constant(1e21), fc.nat()),
          fc.oneof(fc.integer({ min: -5, max: 30 }), fc.constant(2 ** 64), fc.nat()),
          fc.constantFrom("", "bytes ", "bytes=", " "),
          fc.constantFrom("", "/*", "/100", "/x"),
        )
        .map(([a, b, prefix, suffix]) => `${prefix}${a}-${b}${suffix}`),
    );
    const offset = async () => (await send(location, { headers: v2() })).headers.get("range");
    await fc.assert(
      fc.asyncProperty(
        range,
        fc.uint8Array({ maxLength: 30 }),
        fc.constantFrom("PATCH", "PUT"),
        async (r, bytes, method) => {
          // A header value the client refuses to send is no request.
          fc.pre(r.trim() === r && [...r].every((c) => c >= " " && c <= "\u00ff"));
          const before = await offset();
          await attempt(
            `upload ranges (${method})`,
            () =>
              send(`${location}${method === "PUT" ? `?digest=${sha256("nope")}` : ""}`, {
                method,
                headers: { ...v2(), "content-range": r },
                body: Buffer.from(bytes),
              }),
            (a) => {
              expectOciRefusal(a, method, `${method} Content-Range ${JSON.stringify(r)}`);
              // The upload's bytes are as they were (they are files, not rows).
              return offset().then((after) => expect(after).toBe(before));
            },
            // A chunk that does continue the upload is right to be taken; a close whose bytes
            // do not hash to the digest drops the upload, as documented: a new one is opened.
            (a) =>
              (method === "PATCH" && a.status === 202) ||
              (method === "PUT" && a.status === 400 && a.body.includes("DIGEST_INVALID")),
            async (a) => {
              if (a.status === 400) await reopen();
            },
          );
        },
      ),
      {
        numRuns: RUNS,
        // A chunk of the right length that starts elsewhere: refused after the session's
        // lease is taken, whose release once touched the row (seed 1267203101 found it).
        examples: [["2-8", Uint8Array.from([0, 0, 0, 0, 0, 0, 0]), "PATCH"]],
      },
    );
  }, 180_000);

  it("every tRPC procedure refuses arbitrary input with a client error and changes nothing", async () => {
    const procedures: [string, "query" | "mutation"][] = [
      ["namespace.create", "mutation"],
      ["namespace.delete", "mutation"],
      ["namespace.list", "query"],
      ["image.list", "query"],
      ["image.inspect", "query"],
      ["image.tag", "mutation"],
      ["image.untag", "mutation"],
      ["image.rm", "mutation"],
      ["quota.get", "query"],
      ["quota.set", "mutation"],
      ["plan.get", "query"],
      ["plan.set", "mutation"],
      ["registrytoken.create", "mutation"],
      ["registrytoken.get", "query"],
      ["registrytoken.list", "query"],
      ["registrytoken.delete", "mutation"],
      ["registrytokens.delete", "mutation"],
      ["exemption.create", "mutation"],
      ["exemption.delete", "mutation"],
      ["exemption.list", "query"],
      ["events.query", "query"],
      ["delivery.status", "query"],
      ["delivery.dead", "query"],
      ["delivery.redrive", "mutation"],
      ["whoami", "query"],
      ["region", "query"],
    ];
    const input = fc.oneof(
      fc.jsonValue(),
      fc.dictionary(
        fc.constantFrom(
          "name",
          "image",
          "images",
          "source",
          "target",
          "id",
          "ids",
          "scope",
          "issueType",
          "issueId",
          "storageMb",
          "trafficMb",
          "plan",
          "size",
          "limit",
          "cursor",
          "access",
          "description",
          "nonExpiring",
          "namespace",
          "repository",
          "region",
          "from",
          "to",
        ),
        fc.oneof(fc.jsonValue(), noise, fc.integer(), fc.array(noise, { maxLength: 3 })),
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...procedures),
        input,
        fc.boolean(),
        async ([path, kind], value, rawBody) => {
          await attempt(
            `tRPC inputs`,
            () =>
              kind === "query"
                ? send(`/trpc/${path}?input=${encodeURIComponent(JSON.stringify(value))}`, {
                    headers: key(),
                  })
                : send(`/trpc/${path}`, {
                    method: "POST",
                    headers: { ...key(), "content-type": "application/json" },
                    // Now and then a body that is not JSON at all.
                    body: rawBody && typeof value === "string" ? value : JSON.stringify(value),
                  }),
            (a) => expectTrpcRefusal(a, `${path} ${JSON.stringify(value)?.slice(0, 200)}`),
            // Reads answer; a mutation whose input happens to be valid does its work.
            (a) => a.status < 400,
          );
        },
      ),
      { numRuns: RUNS * 4 },
    );
  }, 180_000);

  /** A tRPC mutation refused with 400 and `message`; resolves with its one failure event. */
  async function refusedWithItsEvent(path: string, input: unknown, message: RegExp) {
    const requestId = rid("refused");
    const res = await send(`/trpc/${path}`, {
      method: "POST",
      headers: { ...key(), "content-type": "application/json", "x-request-id": requestId },
      body: JSON.stringify(input),
    });
    expect(res.status, `${path}: ${res.body}`).toBe(400);
    expect(res.body).toMatch(message);
    const events = await env.events(requestId);
    expect(events, path).toHaveLength(1);
    return events[0]!.event;
  }

  it("found by the properties: a NUL character in input is a clear refusal with its event, not a 500", async () => {
    const cases: [string, unknown, RegExp][] = [
      ["image.rm", { images: ["a\u0000b/c:d"] }, /repository name|invalid/],
      ["image.untag", { images: ["props/app:\u0000"] }, /tag/],
      ["registrytoken.create", { description: "a\u0000b" }, /control characters/],
    ];
    for (const [path, input, message] of cases) {
      // The failure event is stored, with the NUL replaced (Postgres and the tracker refuse it).
      const event = await refusedWithItsEvent(path, input, message);
      expect(JSON.stringify(event)).not.toContain("\\u0000");
    }
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        artifactType: "application/x\u0000y",
        config: JSON.parse(fixture.manifest.toString()).config,
        layers: [],
      }),
    );
    const put = await send("/v2/props/app/manifests/nul", {
      method: "PUT",
      headers: { ...v2(), "content-type": MEDIA_TYPES.ociManifest },
      body: manifest,
    });
    expect(put.status, put.body).toBe(400);
    expect(put.body).toMatch(/artifactType is not a media type/);
  }, 180_000);

  it("found by the properties: a lone UTF-16 surrogate is a clear refusal with its event, not a 500", async () => {
    // JSON carries it (escaped); Postgres' JSON refuses it, so its event had to be mended.
    const cases: [string, unknown, RegExp][] = [
      ["namespace.create", { name: "ab\ud800cd" }, /namespace/i],
      ["image.untag", { images: ["props/app:\udc00"] }, /tag/],
    ];
    for (const [path, input, message] of cases) {
      const event = await refusedWithItsEvent(path, input, message);
      expect(JSON.stringify(event), path).toContain("\uFFFD");
    }
    // In a /v2 path, percent-escapes that decode to no UTF-8 (a WTF-8 surrogate, a lone 0xFF).
    for (const p of ["/v2/%ED%A0%80/app/tags/list", "/v2/props/%FF/manifests/1"]) {
      const res = await send(p, { headers: v2() });
      expect(res.status, `${p}: ${res.body}`).toBe(400);
      expect(JSON.parse(res.body).errors[0].code, p).toBe("NAME_INVALID");
    }
  }, 180_000);

  it("an index of indexes 64 deep is stored, pulled and deleted like any other", async () => {
    const child = JSON.parse(fixture.manifest.toString()) as { mediaType: string };
    let below = {
      mediaType: child.mediaType,
      digest: fixture.digest,
      size: fixture.manifest.length,
    };
    const pushed: string[] = [];
    for (let depth = 1; depth <= 64; depth++) {
      const index = Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [below] }),
      );
      const res = await send(`/v2/props/app/manifests/${sha256(index)}`, {
        method: "PUT",
        headers: { ...v2(), "content-type": MEDIA_TYPES.ociIndex },
        body: index,
      });
      expect(res.status, res.body).toBe(201);
      pushed.push(sha256(index));
      below = { mediaType: MEDIA_TYPES.ociIndex, digest: sha256(index), size: index.length };
    }
    const top = await send(`/v2/props/app/manifests/${below.digest}`, { headers: v2() });
    expect(top.status).toBe(200);
    // Deleting from the top down. An index's untagged children that nothing else lists go
    // with it (a multi-platform image is one image), so every other level is already gone.
    let deleted = 0;
    for (const digest of pushed.reverse()) {
      const present = await send(`/v2/props/app/manifests/${digest}`, {
        method: "HEAD",
        headers: v2(),
      });
      if (present.status === 404) continue;
      const res = await send(`/v2/props/app/manifests/${digest}`, {
        method: "DELETE",
        headers: v2(),
      });
      expect(res.status, res.body).toBe(202);
      deleted++;
    }
    expect(deleted).toBe(32);
    // The tagged image at the bottom stays.
    expect(
      (await send("/v2/props/app/manifests/1", { method: "HEAD", headers: v2() })).status,
    ).toBe(200);
  }, 180_000);
});
