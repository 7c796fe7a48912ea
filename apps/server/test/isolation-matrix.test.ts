// Over 400 lines: one table (account B's every credential against every action and endpoint of
// A's) run against one server, so A's state is built once and checked unchanged at the end.
import { createBerthClient, uploadBuildContext } from "@berth/client";
import type { AtEvent } from "@berth/core";
import { outbox, registryTokens } from "@berth/db";
import { stateFingerprint } from "@berth/db/testing";
import { basic, type Image, INGESTION_KEY, pushImage, randomImage, trpc } from "@berth/harness";
import { contextTar } from "@berth/registry/testing";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { eventCount, requestEvents } from "./expect-events";
import { forFile, pushNewImage, rid } from "./helpers";
import { startTrackerBed } from "./tracker-bed";

// Isolation, table-driven: account B, with each kind of credential it can hold (its API key,
// a read-only registry token, a read-write one, an expired one, a bearer token for another
// of its repositories), tries every action of every surface (tRPC, /v2, the tracker through
// events.query) on account A's resources. Each attempt is refused as not found, denied or
// unauthenticated (never served), the failure events it causes are B's alone, and nothing of
// A's changes; B's lists and event queries never show anything of A's.

const { t, tracker, server, alice, bob } = await forFile(
  // The matrix is hundreds of refusals from one address, on purpose.
  startTrackerBed({ authLimit: { maxFailures: 0 } }),
);
const url = server.urls["us-south"]!;
// A's namespace and image (alicens/app:1); the rest of A's resources are made below.
const { image: aliceImage, layer: aliceLayer } = await pushNewImage(
  url,
  alice.apiKey,
  "alicens/app",
  2048,
);
let aliceTokenId: string;
let aliceUpload: string;
let aliceDeadId: string;
let bobImage: Image;
const creds: Record<string, { v2: string; trpc: string }> = {};

const events = (requestId: string) => requestEvents(t.db, requestId);

const aliceEventCount = () => eventCount(t.db, alice.account.id);

beforeAll(async () => {
  // A's other resources: a registry token, an exemption, an open upload and a dead-lettered
  // event; all of its events delivered to the tracker.
  const created = { id: "" };
  await trpc(url, alice.apiKey, "registrytoken.create", { description: "a" }, rid(), {
    out: created,
  });
  aliceTokenId = created.id;
  await trpc(
    url,
    alice.apiKey,
    "exemption.create",
    { scope: "alicens", issueType: "cve", issueId: "CVE-2018-17929" },
    rid(),
  );
  const upload = await fetch(`${url}/v2/alicens/app/blobs/uploads/`, {
    method: "POST",
    headers: { authorization: basic("iamapikey", alice.apiKey) },
  });
  aliceUpload = upload.headers.get("docker-upload-uuid")!;

  // B's own: a namespace and an image, and its credentials.
  await trpc(url, bob.apiKey, "namespace.create", { name: "bobns" }, rid());
  bobImage = randomImage([1024]);
  await pushImage(url, "bobns/tool", "1", bobImage, {
    auth: basic("iamapikey", bob.apiKey),
    requestId: rid(),
  });
  const bobClient = createBerthClient({ url, apiKey: bob.apiKey });
  const token = (access: "read" | "readwrite") =>
    bobClient.registrytoken.create.mutate({ access, description: access });
  const ro = await token("read");
  const rw = await token("readwrite");
  const expired = await token("readwrite");
  await t.db
    .update(registryTokens)
    .set({ expiresAt: new Date(Date.now() - 3_600_000) })
    .where(eq(registryTokens.id, expired.id));
  const jwt = await fetch(`${url}/token?scope=repository:bobns/tool:pull,push`, {
    headers: { authorization: basic("iamapikey", bob.apiKey) },
  });
  const bearer = ((await jwt.json()) as { token: string }).token;
  creds["API key"] = { v2: basic("iamapikey", bob.apiKey), trpc: `Bearer ${bob.apiKey}` };
  creds["read-only token"] = { v2: basic("token", ro.secret), trpc: `Bearer ${ro.secret}` };
  creds["read-write token"] = { v2: basic("token", rw.secret), trpc: `Bearer ${rw.secret}` };
  creds["expired token"] = {
    v2: basic("token", expired.secret),
    trpc: `Bearer ${expired.secret}`,
  };
  creds["bearer token for bobns/tool"] = { v2: `Bearer ${bearer}`, trpc: `Bearer ${bearer}` };

  // A dead-lettered event of A's, and every event so far in the tracker.
  const [first] = await t.db
    .select({ id: outbox.id })
    .from(outbox)
    .where(eq(outbox.accountId, alice.account.id))
    .limit(1);
  aliceDeadId = first!.id;
  const all = await t.db.select({ payload: outbox.payload }).from(outbox);
  const res = await fetch(`${tracker.url}/regions/us-south/logs/ingest?hostname=matrix`, {
    method: "POST",
    headers: { "content-type": "application/json", apikey: INGESTION_KEY },
    body: JSON.stringify({
      lines: all.map((r) => ({ timestamp: Date.now(), line: "x", meta: r.payload })),
    }),
  });
  expect(res.status).toBe(200);
  await t.db
    .update(outbox)
    .set({ status: "dead", deadAt: new Date(), lastError: "test" })
    .where(eq(outbox.id, aliceDeadId));
}, 180_000);

/** Every event a request caused is B's, about B's account; none is A's. */
async function onlyBobs(requestId: string, what: string): Promise<AtEvent[]> {
  const found = await events(requestId);
  for (const { event, accountId } of found) {
    expect(accountId, what).toBe(bob.account.id);
    expect(event.outcome, what).toBe("failure");
    expect(event.target.id, what).toContain(`a/${bob.account.id}::`);
    expect(JSON.stringify(event), what).not.toContain(alice.account.id);
    // B's user, or one of B's registry tokens acting as its account.
    expect(
      event.initiator.id === bob.user.id || event.initiator.id.startsWith("registrytoken-"),
      what,
    ).toBe(true);
    expect(event.initiator.id, what).not.toBe(alice.user.id);
  }
  return found.map((f) => f.event);
}

describe("isolation matrix", () => {
  it("tRPC: every action on A's resources, with B's API key, is refused and audited as B's", async () => {
    const before = await stateFingerprint(t.sql);
    const aliceEvents = await aliceEventCount();
    const scope = { issueType: "cve", issueId: "CVE-2018-17929" };
    const table: [string, "query" | "mutation", unknown, string][] = [
      ["namespace.delete", "mutation", { name: "alicens" }, "NOT_FOUND"],
      // Namespace names are unique in a region, across accounts (DESIGN §2): taken.
      ["namespace.create", "mutation", { name: "alicens" }, "CONFLICT"],
      ["image.list", "query", { namespace: "alicens" }, "NOT_FOUND"],
      ["image.list", "query", { repository: "alicens/app" }, "NOT_FOUND"],
      ["image.inspect", "query", { image: "alicens/app:1" }, "NOT_FOUND"],
      ["image.inspect", "query", { image: `alicens/app@${aliceImage.digest}` }, "NOT_FOUND"],
      ["image.tag", "mutation", { source: "alicens/app:1", target: "bobns/stolen:1" }, "NOT_FOUND"],
      ["image.tag", "mutation", { source: "bobns/tool:1", target: "alicens/app:x" }, "NOT_FOUND"],
      ["image.untag", "mutation", { images: ["alicens/app:1"] }, "NOT_FOUND"],
      ["image.rm", "mutation", { images: ["alicens/app:1"] }, "NOT_FOUND"],
      ["image.rm", "mutation", { images: [`alicens/app@${aliceImage.digest}`] }, "NOT_FOUND"],
      ["registrytoken.get", "query", { id: aliceTokenId }, "NOT_FOUND"],
      ["registrytoken.delete", "mutation", { id: aliceTokenId }, "NOT_FOUND"],
      ["registrytokens.delete", "mutation", { ids: [aliceTokenId] }, "NOT_FOUND"],
      ["exemption.create", "mutation", { scope: "alicens/app", ...scope }, "NOT_FOUND"],
      ["exemption.delete", "mutation", { scope: "alicens", ...scope }, "NOT_FOUND"],
    ];
    for (const [path, kind, input, code] of table) {
      const requestId = rid("bob");
      const res = await fetch(
        `${url}/trpc/${path}${kind === "query" ? `?input=${encodeURIComponent(JSON.stringify(input))}` : ""}`,
        {
          method: kind === "query" ? "GET" : "POST",
          headers: {
            authorization: `Bearer ${bob.apiKey}`,
            "content-type": "application/json",
            "x-request-id": requestId,
          },
          ...(kind === "mutation" ? { body: JSON.stringify(input) } : {}),
        },
      );
      const what = `${path} ${JSON.stringify(input)}`;
      const body = (await res.json()) as { error?: { data: { code: string } } };
      expect(body.error?.data.code, what).toBe(code);
      const caused = await onlyBobs(requestId, what);
      expect(caused, what).toHaveLength(1);
      expect(caused[0]!.action, what).toBe(`container-registry.${path}`);
    }
    // Reads scoped to the caller show nothing of A's.
    const client = createBerthClient({ url, apiKey: bob.apiKey });
    expect((await client.namespace.list.query()).items.map((n) => n.name)).toEqual(["bobns"]);
    expect((await client.image.list.query()).items.map((i) => i.image)).toEqual(["bobns/tool:1"]);
    expect((await client.registrytoken.list.query()).items).not.toContainEqual(
      expect.objectContaining({ id: aliceTokenId }),
    );
    expect((await client.exemption.list.query({ scope: "alicens/app:1" })).items).toEqual([]);
    expect(await client.delivery.dead.query()).toEqual([]);
    expect(await client.delivery.redrive.mutate({ ids: [aliceDeadId] })).toEqual({ redriven: 0 });
    // B's usage is B's image alone.
    const quota = await client.quota.get.query();
    expect(quota.usage.storageBytes).toBe(
      bobImage.manifest.length + bobImage.config.length + bobImage.layers[0]!.length,
    );
    // The tracker through events.query: B's domain only, whatever the filters say.
    const aliceCrn = `crn:v1:bluemix:public:container-registry:us-south:a/${alice.account.id}::namespace:alicens`;
    for (const filters of [
      {},
      { target: aliceCrn },
      { target: "alicens" },
      { initiator: alice.user.id },
      { initiator: alice.user.name },
      { query: alice.account.id },
      { action: ["container-registry.namespace.create"] },
    ]) {
      const page = await client.events.query.query(filters);
      for (const line of page.lines) {
        expect(JSON.stringify(line), JSON.stringify(filters)).not.toContain(alice.account.id);
      }
    }
    expect((await client.events.query.query({})).lines.length).toBeGreaterThan(0);
    // image.build: from A's image, and into A's namespace.
    for (const [input, dockerfile] of [
      [{ target: "bobns/built:1" }, "FROM alicens/app:1\n"],
      [{ target: "alicens/app:built" }, "FROM scratch\nCOPY f /f\n"],
    ] as const) {
      const { context: withFile } = await uploadBuildContext(
        { url, apiKey: bob.apiKey },
        await contextTar({ f: "x\n", Dockerfile: dockerfile }),
      );
      const requestId = rid("bob-build");
      const last = await new Promise<{ kind: string; error?: { code: string } }>(
        (resolve, reject) => {
          const sub = client.image.build.subscribe(
            { ...input, context: withFile },
            {
              context: { requestId },
              onData: (m) => {
                if (m.kind === "done" || m.kind === "failed") {
                  sub.unsubscribe();
                  resolve(m as { kind: string; error?: { code: string } });
                }
              },
              onError: reject,
            },
          );
        },
      );
      expect(last.kind, JSON.stringify(input)).toBe("failed");
      expect(["NOT_FOUND", "FORBIDDEN"]).toContain(last.error?.code);
      expect(await onlyBobs(requestId, `image.build ${JSON.stringify(input)}`)).toHaveLength(1);
    }
    // Nothing of A's changed, and A was attributed nothing.
    const after = await stateFingerprint(t.sql);
    for (const table of ["namespaces", "manifests", "tags", "registry_tokens", "exemptions"]) {
      expect(after[table], table).toBe(before[table]);
    }
    expect(await aliceEventCount()).toBe(aliceEvents);
  });

  it("tRPC refuses every other kind of credential as unauthenticated, before anything runs", async () => {
    const aliceEvents = await aliceEventCount();
    for (const [name, cred] of Object.entries(creds)) {
      if (name === "API key") continue;
      const calls: [string, "query" | "mutation", unknown][] = [
        ["namespace.list", "query", undefined],
        ["events.query", "query", {}],
        ["image.rm", "mutation", { images: ["alicens/app:1"] }],
        ["registrytoken.delete", "mutation", { id: aliceTokenId }],
      ];
      for (const [path, kind, input] of calls) {
        const requestId = rid("bob");
        const query = input !== undefined && kind === "query";
        const res = await fetch(
          `${url}/trpc/${path}${query ? `?input=${encodeURIComponent(JSON.stringify(input))}` : ""}`,
          {
            method: kind === "query" ? "GET" : "POST",
            headers: {
              authorization: cred.trpc,
              "content-type": "application/json",
              "x-request-id": requestId,
            },
            ...(kind === "mutation" ? { body: JSON.stringify(input) } : {}),
          },
        );
        expect(res.status, `${name} ${path}`).toBe(401);
        expect(await events(requestId), `${name} ${path}`).toEqual([]);
      }
    }
    expect(await aliceEventCount()).toBe(aliceEvents);
  });

  it("/v2: every endpoint on A's repository, with each of B's credentials, is refused; failure events are B's", async () => {
    const before = await stateFingerprint(t.sql);
    const aliceEvents = await aliceEventCount();
    const manifest = bobImage.manifest;
    const a = "alicens/app";
    const table: [string, string, { body?: Buffer | string; audited?: boolean }][] = [
      ["GET", `/v2/${a}/manifests/1`, { audited: true }],
      ["GET", `/v2/${a}/manifests/${aliceImage.digest}`, { audited: true }],
      ["HEAD", `/v2/${a}/manifests/1`, {}],
      ["GET", `/v2/${a}/blobs/${aliceLayer}`, {}],
      ["HEAD", `/v2/${a}/blobs/${aliceLayer}`, {}],
      ["GET", `/v2/${a}/tags/list`, {}],
      ["GET", `/v2/${a}/referrers/${aliceImage.digest}`, {}],
      ["PUT", `/v2/${a}/manifests/evil`, { body: manifest, audited: true }],
      ["DELETE", `/v2/${a}/manifests/${aliceImage.digest}`, { audited: true }],
      ["DELETE", `/v2/${a}/blobs/${aliceLayer}`, { audited: true }],
      ["POST", `/v2/${a}/blobs/uploads/`, { audited: true }],
      ["POST", `/v2/${a}/blobs/uploads/?digest=${aliceLayer}`, { body: "x", audited: true }],
      ["GET", `/v2/${a}/blobs/uploads/${aliceUpload}`, {}],
      ["PATCH", `/v2/${a}/blobs/uploads/${aliceUpload}`, { body: "x" }],
      ["PUT", `/v2/${a}/blobs/uploads/${aliceUpload}?digest=${aliceLayer}`, {}],
      ["DELETE", `/v2/${a}/blobs/uploads/${aliceUpload}`, {}],
      // A's upload session through B's own repository.
      ["PATCH", `/v2/bobns/tool/blobs/uploads/${aliceUpload}`, { body: "x" }],
    ];
    for (const [name, cred] of Object.entries(creds)) {
      for (const [method, path, opts] of table) {
        const requestId = rid("bob");
        const res = await fetch(`${url}${path}`, {
          method,
          headers: {
            authorization: cred.v2,
            "x-request-id": requestId,
            "content-type": "application/vnd.oci.image.manifest.v1+json",
          },
          ...(opts.body !== undefined ? { body: opts.body } : {}),
        });
        const what = `${name}: ${method} ${path} → ${res.status}`;
        expect([401, 403, 404], what).toContain(res.status);
        if (method !== "HEAD") {
          const code = ((await res.json()) as { errors: { code: string }[] }).errors[0]!.code;
          expect(["UNAUTHORIZED", "DENIED", "NAME_UNKNOWN", "BLOB_UPLOAD_UNKNOWN"], what).toContain(
            code,
          );
        }
        const caused = await onlyBobs(requestId, what);
        // B identified (not expired, and the request within what its credential may ask):
        // a refused audited action is B's failure event; otherwise nothing is audited.
        const identified = !name.startsWith("expired") && !name.startsWith("bearer");
        expect(caused.length, what).toBe(identified && opts.audited ? 1 : 0);
      }
      // A cross-repository mount from A's repository never links A's blob into B's.
      const mount = await fetch(
        `${url}/v2/bobns/tool/blobs/uploads/?mount=${aliceLayer}&from=${a}`,
        { method: "POST", headers: { authorization: cred.v2 } },
      );
      expect([202, 401, 403], `${name}: mount`).toContain(mount.status);
      const location = mount.headers.get("location");
      if (location)
        await fetch(`${url}${location}`, { method: "DELETE", headers: { authorization: cred.v2 } });
      const blob = await fetch(`${url}/v2/bobns/tool/blobs/${aliceLayer}`, {
        method: "HEAD",
        headers: { authorization: creds["API key"]!.v2 },
      });
      expect(blob.status, `${name}: A's layer in B's repository after a mount`).toBe(404);
      // The catalog lists B's repositories only (or needs a scope the token lacks).
      const catalog = await fetch(`${url}/v2/_catalog`, { headers: { authorization: cred.v2 } });
      if (catalog.status === 200) {
        expect(((await catalog.json()) as { repositories: string[] }).repositories).toEqual([
          "bobns/tool",
        ]);
      } else expect(catalog.status, `${name}: catalog`).toBe(401);
    }
    const after = await stateFingerprint(t.sql);
    expect(after).toEqual(before);
    expect(await aliceEventCount()).toBe(aliceEvents);
  });
});
