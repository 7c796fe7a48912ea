// Over 400 lines: the distribution spec's conformance walk (base, uploads, manifests, names,
// listing) against one server, in the spec's order; each describe block is one part of it.
import { randomBytes } from "node:crypto";
import { MAX_MANIFEST_BYTES } from "@berth/core";
import { uploadSessions } from "@berth/db";
import { FsBlobStore, MAX_OPEN_UPLOADS } from "@berth/registry";
import { sql } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { checkEvent, type ExpectedEvent, expectOneEvent } from "./expect-events";
import { forFile, rid, serverOn } from "./helpers";
import { expectError, imageManifest, json, MEDIA, OciClient, sha256 } from "./oci-client";
import { startOciEnv } from "./oci-helpers";

const env = await forFile(startOciEnv());
let alice: OciClient;
let bob: OciClient;

beforeAll(async () => {
  await env.namespace(env.alice, "alicens");
  await env.namespace(env.bob, "bobns");
  alice = OciClient.basic(env.url(), "iamapikey", env.alice.apiKey);
  bob = OciClient.basic(env.url(), "iamapikey", env.bob.apiKey);
});

/** The failure event of alice's refused push of `name`. */
const pushRefused = (
  name: string,
  reasonCode: number,
  severity: "warning" | "critical" = "warning",
): ExpectedEvent => ({
  action: "container-registry.image.push",
  outcome: "failure",
  severity,
  reasonCode,
  targetType: "image",
  targetName: name,
  who: env.alice,
});
/** Alice's GET of `path` is answered with that OCI error. */
const refusedGet = async (path: string, status: number, code: string) =>
  expectError(await alice.request("GET", path), status, code);

const image = (name: string, status = 201) => ({
  action: "container-registry.image.push",
  outcome: "success" as const,
  severity: "normal" as const,
  reasonCode: status,
  targetType: "image",
  targetName: name,
});

describe("base endpoint", () => {
  it("challenges anonymous clients with the bearer realm, and answers {} to a credential", async () => {
    const anon = await new OciClient(env.url()).request("GET", "/v2/");
    expect(anon.status).toBe(401);
    expect(anon.headers.get("docker-distribution-api-version")).toBe("registry/2.0");
    expect(anon.headers.get("www-authenticate")).toBe(
      `Bearer realm="http://${env.host}/token",service="berth-registry-us-south"`,
    );
    expect((await json<{ errors: { code: string }[] }>(anon)).errors[0]?.code).toBe("UNAUTHORIZED");
    const ok = await alice.request("GET", "/v2/");
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({});
    expect((await alice.request("GET", "/v2")).status).toBe(200);
  });

  it("names the scope a repository request needs in the challenge", async () => {
    const anon = new OciClient(env.url());
    const pull = await anon.request("GET", "/v2/alicens/app/manifests/latest");
    expect(pull.status).toBe(401);
    expect(pull.headers.get("www-authenticate")).toContain('scope="repository:alicens/app:pull"');
    const push = await anon.request("POST", "/v2/alicens/app/blobs/uploads/");
    expect(push.headers.get("www-authenticate")).toContain(
      'scope="repository:alicens/app:pull,push"',
    );
    const del = await anon.request("DELETE", `/v2/alicens/app/manifests/${sha256("x")}`);
    expect(del.headers.get("www-authenticate")).toContain('scope="repository:alicens/app:delete"');
    const catalog = await anon.request("GET", "/v2/_catalog");
    expect(catalog.headers.get("www-authenticate")).toContain('scope="registry:catalog:*"');
  });

  it("answers unknown endpoints with 404 and wrong methods with 405", async () => {
    await expectError(await alice.request("GET", "/v2/alicens/app/nothing"), 404, "UNSUPPORTED");
    const r = await alice.request("PUT", "/v2/alicens/app/tags/list");
    expect(r.headers.get("allow")).toBe("GET");
    await expectError(r, 405, "UNSUPPORTED");
  });
});

describe("blob uploads", () => {
  it("takes a monolithic upload (POST ?digest=) and serves it back with HEAD and GET", async () => {
    const bytes = randomBytes(5000);
    const digest = sha256(bytes);
    const r = await alice.request("POST", `/v2/alicens/mono/blobs/uploads/?digest=${digest}`, {
      body: bytes,
      headers: { "content-type": "application/octet-stream" },
    });
    expect(r.status, await r.clone().text()).toBe(201);
    expect(r.headers.get("location")).toBe(`/v2/alicens/mono/blobs/${digest}`);
    expect(r.headers.get("docker-content-digest")).toBe(digest);
    const head = await alice.request("HEAD", `/v2/alicens/mono/blobs/${digest}`);
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("5000");
    expect(head.headers.get("docker-content-digest")).toBe(digest);
    const get = await alice.request("GET", `/v2/alicens/mono/blobs/${digest}`);
    expect(get.status).toBe(200);
    expect(Buffer.from(await get.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it("takes a chunked upload, refusing chunks out of order without changing the upload", async () => {
    const parts = [randomBytes(10), randomBytes(10), randomBytes(10)];
    const whole = Buffer.concat(parts);
    const start = await alice.request("POST", "/v2/alicens/chunked/blobs/uploads/");
    expect(start.status).toBe(202);
    const location = start.headers.get("location")!;
    const uuid = start.headers.get("docker-upload-uuid")!;
    expect(location).toBe(`/v2/alicens/chunked/blobs/uploads/${uuid}`);
    expect(start.headers.get("range")).toBe("0-0");

    const patch = (body: Buffer, range: string) =>
      alice.request("PATCH", location, {
        body,
        headers: { "content-type": "application/octet-stream", "content-range": range },
      });
    const first = await patch(parts[0]!, "0-9");
    expect(first.status).toBe(202);
    expect(first.headers.get("range")).toBe("0-9");
    expect(first.headers.get("location")).toBe(location);

    const skipped = await patch(parts[2]!, "20-29");
    expect(skipped.headers.get("range")).toBe("0-9");
    await expectError(skipped, 416, "BLOB_UPLOAD_INVALID");
    const repeated = await patch(parts[0]!, "0-9");
    await expectError(repeated, 416, "BLOB_UPLOAD_INVALID");

    const status = await alice.request("GET", location);
    expect(status.status).toBe(204);
    expect(status.headers.get("range")).toBe("0-9");
    expect(status.headers.get("docker-upload-uuid")).toBe(uuid);

    expect((await patch(parts[1]!, "10-19")).status).toBe(202);
    const done = await alice.request("PUT", `${location}?digest=${sha256(whole)}`, {
      body: parts[2]!,
      headers: { "content-type": "application/octet-stream", "content-range": "20-29" },
    });
    expect(done.status, await done.clone().text()).toBe(201);
    const get = await alice.request("GET", `/v2/alicens/chunked/blobs/${sha256(whole)}`);
    expect(Buffer.from(await get.arrayBuffer()).equals(whole)).toBe(true);
    await expectError(await alice.request("GET", location), 404, "BLOB_UPLOAD_UNKNOWN");
  });

  it("refuses a chunk whose length does not match its Content-Range (SIZE_INVALID)", async () => {
    const start = await alice.request("POST", "/v2/alicens/sized/blobs/uploads/");
    const location = start.headers.get("location")!;
    const r = await alice.request("PATCH", location, {
      body: Buffer.from("12345"),
      headers: { "content-range": "0-9" },
    });
    await expectError(r, 400, "SIZE_INVALID");
    await expectError(
      await alice.request("PATCH", location, { body: "x", headers: { "content-range": "9-1" } }),
      416,
      "BLOB_UPLOAD_INVALID",
    );
    const status = await alice.request("GET", location);
    expect(status.headers.get("range")).toBe("0-0");
  });

  it("takes a streamed PATCH without Content-Range and a PUT without body", async () => {
    const bytes = randomBytes(300_000);
    const start = await alice.request("POST", "/v2/alicens/streamed/blobs/uploads/");
    const location = start.headers.get("location")!;
    const patch = await alice.request("PATCH", location, { body: bytes });
    expect(patch.headers.get("range")).toBe(`0-${bytes.length - 1}`);
    const put = await alice.request("PUT", `${location}?digest=${sha256(bytes)}`);
    expect(put.status).toBe(201);
  });

  it("refuses a wrong or missing digest and drops a mismatched upload", async () => {
    const bytes = randomBytes(100);
    const start = await alice.request("POST", "/v2/alicens/wrong/blobs/uploads/");
    const location = start.headers.get("location")!;
    await alice.request("PATCH", location, { body: bytes });
    await expectError(await alice.request("PUT", location), 400, "DIGEST_INVALID");
    await expectError(
      await alice.request("PUT", `${location}?digest=sha256:abc`),
      400,
      "DIGEST_INVALID",
    );
    // Those two changed nothing: the upload is still there.
    expect((await alice.request("GET", location)).status).toBe(204);
    await expectError(
      await alice.request("PUT", `${location}?digest=${sha256("other bytes")}`),
      400,
      "DIGEST_INVALID",
    );
    await expectError(await alice.request("GET", location), 404, "BLOB_UPLOAD_UNKNOWN");
    const mono = await alice.request(
      "POST",
      `/v2/alicens/wrong/blobs/uploads/?digest=${sha256("x")}`,
      { body: "y" },
    );
    await expectError(mono, 400, "DIGEST_INVALID");
    await expectError(
      await alice.request("HEAD", `/v2/alicens/wrong/blobs/${sha256("y")}`),
      404,
      "BLOB_UNKNOWN",
    );
  });

  it("cancels an upload and keeps uploads private to their account and repository", async () => {
    const start = await alice.request("POST", "/v2/alicens/cancel/blobs/uploads/");
    const location = start.headers.get("location")!;
    const id = start.headers.get("docker-upload-uuid")!;
    await expectError(await bob.request("GET", location), 404, "BLOB_UPLOAD_UNKNOWN");
    await expectError(
      await bob.request("GET", `/v2/bobns/cancel/blobs/uploads/${id}`),
      404,
      "BLOB_UPLOAD_UNKNOWN",
    );
    await refusedGet(`/v2/alicens/other/blobs/uploads/${id}`, 404, "BLOB_UPLOAD_UNKNOWN");
    await refusedGet("/v2/alicens/cancel/blobs/uploads/not-a-uuid", 404, "BLOB_UPLOAD_UNKNOWN");
    expect((await alice.request("DELETE", location)).status).toBe(204);
    await expectError(await alice.request("GET", location), 404, "BLOB_UPLOAD_UNKNOWN");
    await expectError(await alice.request("DELETE", location), 404, "BLOB_UPLOAD_UNKNOWN");
  });

  it("resumes an upload on a restarted server (same database and storage)", async () => {
    const parts = [randomBytes(1000), randomBytes(2000)];
    const start = await alice.request("POST", "/v2/alicens/resume/blobs/uploads/");
    const location = start.headers.get("location")!;
    await alice.request("PATCH", location, {
      body: parts[0]!,
      headers: { "content-range": "0-999" },
    });
    // A second server with its own store instance has none of the first one's memory.
    const restarted = await serverOn(env.t.db, {
      store: new FsBlobStore(env.store.root),
    });
    try {
      const other = OciClient.basic(restarted.urls["us-south"]!, "iamapikey", env.alice.apiKey);
      const status = await other.request("GET", location);
      expect(status.headers.get("range")).toBe("0-999");
      const patch = await other.request("PATCH", location, {
        body: parts[1]!,
        headers: { "content-range": "1000-2999" },
      });
      expect(patch.headers.get("range")).toBe("0-2999");
      const whole = Buffer.concat(parts);
      const put = await other.request("PUT", `${location}?digest=${sha256(whole)}`);
      expect(put.status, await put.clone().text()).toBe(201);
      const get = await alice.request("GET", `/v2/alicens/resume/blobs/${sha256(whole)}`);
      expect(Buffer.from(await get.arrayBuffer()).equals(whole)).toBe(true);
    } finally {
      await restarted.close();
    }
  });

  it("serves byte ranges and refuses ranges outside the blob", async () => {
    const bytes = Buffer.from("0123456789");
    const digest = await alice.pushBlob("alicens/ranges", bytes);
    const path = `/v2/alicens/ranges/blobs/${digest}`;
    const mid = await alice.request("GET", path, { headers: { range: "bytes=2-5" } });
    expect(mid.status).toBe(206);
    expect(mid.headers.get("content-range")).toBe("bytes 2-5/10");
    expect(await mid.text()).toBe("2345");
    const tail = await alice.request("GET", path, { headers: { range: "bytes=-3" } });
    expect(await tail.text()).toBe("789");
    const open = await alice.request("GET", path, { headers: { range: "bytes=7-" } });
    expect(await open.text()).toBe("789");
    await expectError(
      await alice.request("GET", path, { headers: { range: "bytes=10-" } }),
      416,
      "RANGE_INVALID",
    );
  });

  it("mounts a blob from another repository of the account, never from another account", async () => {
    const bytes = randomBytes(2000);
    const digest = await alice.pushBlob("alicens/source", bytes);
    const mounted = await alice.request(
      "POST",
      `/v2/alicens/target/blobs/uploads/?mount=${digest}&from=alicens/source`,
    );
    expect(mounted.status).toBe(201);
    expect(mounted.headers.get("location")).toBe(`/v2/alicens/target/blobs/${digest}`);
    expect((await alice.request("HEAD", `/v2/alicens/target/blobs/${digest}`)).status).toBe(200);
    // Without `from` there is no mount (a search of every repository would let a credential
    // for one repository link another's blobs): an upload session instead.
    const anywhere = await alice.request(
      "POST",
      `/v2/alicens/third/blobs/uploads/?mount=${digest}`,
    );
    expect(anywhere.status).toBe(202);
    // Not there: an upload session instead.
    const missing = await alice.request(
      "POST",
      `/v2/alicens/target/blobs/uploads/?mount=${sha256("nope")}&from=alicens/source`,
    );
    expect(missing.status).toBe(202);
    expect(missing.headers.get("docker-upload-uuid")).toBeTruthy();
    // Bob knows the digest but cannot mount Alice's blob.
    const stolen = await bob.request(
      "POST",
      `/v2/bobns/loot/blobs/uploads/?mount=${digest}&from=alicens/source`,
    );
    expect(stolen.status).toBe(202);
    const guess = await bob.request("POST", `/v2/bobns/loot/blobs/uploads/?mount=${digest}`);
    expect(guess.status).toBe(202);
    await expectError(
      await bob.request("HEAD", `/v2/bobns/loot/blobs/${digest}`),
      404,
      "BLOB_UNKNOWN",
    );
  });

  it("deletes a blob link unless a manifest uses it", async () => {
    const loose = await alice.pushBlob("alicens/blobdel", Buffer.from("loose"));
    expect((await alice.request("DELETE", `/v2/alicens/blobdel/blobs/${loose}`)).status).toBe(202);
    await expectError(
      await alice.request("HEAD", `/v2/alicens/blobdel/blobs/${loose}`),
      404,
      "BLOB_UNKNOWN",
    );
    await expectError(
      await alice.request("DELETE", `/v2/alicens/blobdel/blobs/${loose}`),
      404,
      "BLOB_UNKNOWN",
    );
    const img = await alice.pushImage("alicens/blobdel", "v1");
    await expectError(
      await alice.request("DELETE", `/v2/alicens/blobdel/blobs/${img.layers[0]}`),
      409,
      "DENIED",
    );
  });

  it("limits the uploads an account has open at once (TOOMANYREQUESTS)", async () => {
    const [repo] = await env.t.db.execute<{ id: string }>(
      sql`select r.id from repositories r where r.name = 'alicens/chunked'`,
    );
    const rows = Array.from({ length: MAX_OPEN_UPLOADS }, (_, i) => ({
      id: `00000000-0000-7000-8000-${String(i).padStart(12, "0")}`,
      repositoryId: repo!.id,
      accountId: env.bob.account.id,
    }));
    await env.t.db.insert(uploadSessions).values(rows);
    try {
      const id = rid("toomany");
      const r = await bob.withRequestId(id).request("POST", "/v2/bobns/busy/blobs/uploads/");
      await expectError(r, 429, "TOOMANYREQUESTS");
      const [event] = await env.events(id);
      expect(event?.event.outcome).toBe("failure");
      expect(event?.event.reason.reasonCode).toBe(429);
    } finally {
      await env.t.db.execute(
        sql`delete from upload_sessions where account_id = ${env.bob.account.id}`,
      );
    }
  });
});

describe("manifests", () => {
  it("stores a manifest by tag and serves it by tag and by digest, byte for byte", async () => {
    const id = rid("push");
    const pushed = await alice.withRequestId(id).pushImage("alicens/app", "v1");
    await expectOneEvent(env, id, {
      ...image("alicens/app:v1"),
      who: env.alice,
      crnResource: `alicens/app@${pushed.digest}`,
      message: "Container Registry: push image alicens/app:v1",
    });
    for (const ref of ["v1", pushed.digest]) {
      const pullId = rid("pull");
      const r = await alice
        .withRequestId(pullId)
        .request("GET", `/v2/alicens/app/manifests/${ref}`);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe(MEDIA.ociManifest);
      expect(r.headers.get("docker-content-digest")).toBe(pushed.digest);
      expect(Buffer.from(await r.arrayBuffer()).equals(pushed.bytes)).toBe(true);
      const name = ref === "v1" ? "alicens/app:v1" : `alicens/app@${pushed.digest}`;
      await expectOneEvent(env, pullId, {
        action: "container-registry.image.pull",
        outcome: "success",
        severity: "normal",
        reasonCode: 200,
        targetType: "image",
        targetName: name,
        who: env.alice,
        crnResource: `alicens/app@${pushed.digest}`,
      });
    }
    const headId = rid("head");
    const head = await alice.withRequestId(headId).request("HEAD", "/v2/alicens/app/manifests/v1");
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(pushed.bytes.length));
    expect(head.headers.get("docker-content-digest")).toBe(pushed.digest);
    expect(await env.events(headId)).toHaveLength(0);
  });

  it("names a push by digest as ns/repo@digest, and refuses a digest that does not match", async () => {
    const config = await alice.pushBlob("alicens/bydigest", Buffer.from("{}"));
    const m = Buffer.from(JSON.stringify(imageManifest({ digest: config, size: 2 }, [])));
    const digest = sha256(m);
    const id = rid("bydigest");
    const r = await alice
      .withRequestId(id)
      .putManifest("alicens/bydigest", digest, m.toString(), MEDIA.ociManifest);
    expect(r.status).toBe(201);
    await expectOneEvent(env, id, {
      ...image(`alicens/bydigest@${digest}`),
      who: env.alice,
    });
    const badId = rid("baddigest");
    const bad = await alice
      .withRequestId(badId)
      .putManifest("alicens/bydigest", sha256("else"), m.toString(), MEDIA.ociManifest);
    await expectError(bad, 400, "DIGEST_INVALID");
    await expectOneEvent(env, badId, pushRefused(`alicens/bydigest@${sha256("else")}`, 400));
  });

  it("refuses manifests whose blobs are not in the repository (MANIFEST_BLOB_UNKNOWN)", async () => {
    const config = await alice.pushBlob("alicens/missing", Buffer.from("{}"));
    const absent = imageManifest({ digest: config, size: 2 }, [
      { digest: sha256("absent"), size: 6 },
    ]);
    const id = rid("blobunknown");
    const r = await alice
      .withRequestId(id)
      .putManifest("alicens/missing", "v1", absent, MEDIA.ociManifest);
    await expectError(r, 400, "MANIFEST_BLOB_UNKNOWN");
    const [event] = await env.events(id);
    expect(event?.event.outcome).toBe("failure");
    // In the store, but uploaded into another repository: still unknown here.
    const elsewhere = await alice.pushBlob("alicens/elsewhere", Buffer.from("layer elsewhere"));
    const other = imageManifest({ digest: config, size: 2 }, [{ digest: elsewhere, size: 15 }]);
    await expectError(
      await alice.putManifest("alicens/missing", "v1", other, MEDIA.ociManifest),
      400,
      "MANIFEST_BLOB_UNKNOWN",
    );
    await refusedGet("/v2/alicens/missing/manifests/v1", 404, "MANIFEST_UNKNOWN");
  });

  it.each([
    ["that is not JSON", "v1", "{not json", MEDIA.ociManifest, 400, "MANIFEST_INVALID"],
    [
      "without a config",
      "v1",
      { schemaVersion: 2, layers: [] },
      MEDIA.ociManifest,
      400,
      "MANIFEST_INVALID",
    ],
    [
      "of schema 1",
      "v1",
      { schemaVersion: 1, name: "x", tag: "v1", fsLayers: [] },
      "application/vnd.docker.distribution.manifest.v1+prettyjws",
      415,
      "UNSUPPORTED",
    ],
    ["under an invalid tag", "bad..tag!", "{}", MEDIA.ociManifest, 400, "MANIFEST_INVALID"],
  ] as const)("refuses a manifest %s: %i %s", async (_, tag, manifest, mediaType, status, code) => {
    await expectError(
      await alice.putManifest("alicens/invalid", tag, manifest, mediaType),
      status,
      code,
    );
  });

  it("refuses an oversize manifest with 413 and its failure event", async () => {
    const id = rid("oversize");
    const huge = JSON.stringify({ schemaVersion: 2, pad: "x".repeat(MAX_MANIFEST_BYTES) });
    const r = await alice
      .withRequestId(id)
      .putManifest("alicens/invalid", "big", huge, MEDIA.ociManifest);
    await expectError(r, 413, "MANIFEST_INVALID");
    await expectOneEvent(env, id, pushRefused("alicens/invalid:big", 413));
  });

  it("accepts Docker schema 2 manifests, with or without a mediaType field", async () => {
    const config = await alice.pushBlob("alicens/docker", Buffer.from('{"architecture":"amd64"}'));
    const layer = await alice.pushBlob("alicens/docker", Buffer.from("docker layer"));
    const body = {
      schemaVersion: 2,
      config: { mediaType: MEDIA.dockerConfig, digest: config, size: 24 },
      layers: [{ mediaType: MEDIA.dockerLayer, digest: layer, size: 12 }],
    };
    const r = await alice.putManifest("alicens/docker", "untyped", body, MEDIA.dockerManifest);
    expect(r.status, await r.clone().text()).toBe(201);
    const get = await alice.request("GET", "/v2/alicens/docker/manifests/untyped");
    expect(get.headers.get("content-type")).toBe(MEDIA.dockerManifest);
    const typed = await alice.putManifest(
      "alicens/docker",
      "typed",
      { ...body, mediaType: MEDIA.dockerManifest },
      MEDIA.dockerManifest,
    );
    expect(typed.status).toBe(201);
  });

  it("stores indexes whose platform manifests are all there, OCI and Docker", async () => {
    const amd = await alice.pushImage("alicens/multi", "amd64", {
      config: Buffer.from('{"architecture":"amd64","os":"linux"}'),
    });
    const arm = await alice.pushImage("alicens/multi", "arm64", {
      config: Buffer.from('{"architecture":"arm64","os":"linux"}'),
    });
    const entry = (
      d: { digest: string; bytes: Buffer },
      architecture: string,
      mediaType: string,
    ) => ({
      mediaType,
      digest: d.digest,
      size: d.bytes.length,
      platform: { architecture, os: "linux" },
    });
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [entry(amd, "amd64", MEDIA.ociManifest), entry(arm, "arm64", MEDIA.ociManifest)],
    };
    const r = await alice.putManifest("alicens/multi", "latest", index, MEDIA.ociIndex);
    expect(r.status, await r.clone().text()).toBe(201);
    const list = { ...index, mediaType: MEDIA.dockerList };
    expect((await alice.putManifest("alicens/multi", "list", list, MEDIA.dockerList)).status).toBe(
      201,
    );
    const broken = {
      ...index,
      manifests: [...index.manifests, { ...index.manifests[0]!, digest: sha256("gone") }],
    };
    await expectError(
      await alice.putManifest("alicens/multi", "broken", broken, MEDIA.ociIndex),
      400,
      "MANIFEST_BLOB_UNKNOWN",
    );
    // A platform manifest an index lists cannot go first.
    await expectError(
      await alice.request("DELETE", `/v2/alicens/multi/manifests/${amd.digest}`),
      409,
      "DENIED",
    );
  });

  it("deletes by digest (with its tags), deletes only the tag by tag, and audits both", async () => {
    const pushed = await alice.pushImage("alicens/del", "v1");
    await alice.putManifest("alicens/del", "v2", pushed.bytes.toString(), MEDIA.ociManifest);
    await alice.putManifest("alicens/del", "v3", pushed.bytes.toString(), MEDIA.ociManifest);
    // By tag (distribution spec 1.1): the tag goes, audited as image.untag.
    const tagId = rid("deltag");
    const untag = await alice
      .withRequestId(tagId)
      .request("DELETE", "/v2/alicens/del/manifests/v3");
    expect(untag.status).toBe(202);
    const [untagged] = await env.events(tagId);
    expect([untagged?.event.action, untagged?.event.outcome]).toEqual([
      "container-registry.image.untag",
      "success",
    ]);
    const id = rid("delete");
    const r = await alice
      .withRequestId(id)
      .request("DELETE", `/v2/alicens/del/manifests/${pushed.digest}`);
    expect(r.status).toBe(202);
    await expectOneEvent(env, id, {
      action: "container-registry.image.delete",
      outcome: "success",
      severity: "critical",
      reasonCode: 202,
      targetType: "image",
      targetName: `alicens/del@${pushed.digest}`,
      who: env.alice,
    });
    await refusedGet("/v2/alicens/del/manifests/v2", 404, "MANIFEST_UNKNOWN");
    const againId = rid("delagain");
    await expectError(
      await alice
        .withRequestId(againId)
        .request("DELETE", `/v2/alicens/del/manifests/${pushed.digest}`),
      404,
      "MANIFEST_UNKNOWN",
    );
    await expectOneEvent(env, againId, {
      action: "container-registry.image.delete",
      outcome: "failure",
      severity: "warning",
      reasonCode: 404,
      targetType: "image",
      targetName: `alicens/del@${pushed.digest}`,
      who: env.alice,
    });
  });

  it("audits failed pulls of identified accounts, not HEAD requests", async () => {
    const id = rid("pull404");
    await expectError(
      await alice.withRequestId(id).request("GET", "/v2/alicens/app/manifests/nope"),
      404,
      "MANIFEST_UNKNOWN",
    );
    await expectOneEvent(env, id, {
      action: "container-registry.image.pull",
      outcome: "failure",
      severity: "warning",
      reasonCode: 404,
      targetType: "image",
      targetName: "alicens/app:nope",
      who: env.alice,
    });
    const headId = rid("head404");
    const head = await alice
      .withRequestId(headId)
      .request("HEAD", "/v2/alicens/app/manifests/nope");
    expect(head.status).toBe(404);
    expect(await env.events(headId)).toHaveLength(0);
  });
});

describe("names and namespaces", () => {
  it("refuses invalid names with NAME_INVALID, audited for identified accounts", async () => {
    for (const path of [
      "/v2/Alicens/App/manifests/v1",
      "/v2/app/manifests/v1",
      "/v2/alicens/a..b/manifests/v1",
      "/v2/x/app/manifests/v1",
    ]) {
      const id = rid("badname");
      await expectError(await alice.withRequestId(id).request("GET", path), 400, "NAME_INVALID");
      const events = await env.events(id);
      expect(events).toHaveLength(1);
      expect(events[0]!.event.outcome).toBe("failure");
      expect(events[0]!.event.reason.reasonCode).toBe(400);
    }
    await expectError(
      await alice.request("POST", "/v2/UPPER/case/blobs/uploads/"),
      400,
      "NAME_INVALID",
    );
  });

  it("never reveals another account's namespace: reads are NAME_UNKNOWN, pushes DENIED", async () => {
    await bob.pushImage("bobns/secret", "v1");
    const read = await alice.request("GET", "/v2/bobns/secret/manifests/v1");
    const readMessage = await expectError(read, 404, "NAME_UNKNOWN");
    const absent = await alice.request("GET", "/v2/nosuchns/secret/manifests/v1");
    expect(await expectError(absent, 404, "NAME_UNKNOWN")).toBe(
      readMessage.replace("bobns", "nosuchns"),
    );
    const id = rid("foreignpush");
    const push = await alice.withRequestId(id).request("POST", "/v2/bobns/secret/blobs/uploads/");
    const pushMessage = await expectError(push, 403, "DENIED");
    const absentPush = await alice.request("POST", "/v2/nosuchns/secret/blobs/uploads/");
    expect(await expectError(absentPush, 403, "DENIED")).toBe(
      pushMessage.replace("bobns", "nosuchns"),
    );
    const events = await env.events(id);
    expect(events).toHaveLength(1);
    checkEvent(events[0], id, pushRefused("bobns/secret", 403, "critical"));
    await expectError(
      await alice.putManifest("bobns/secret", "v2", "{}", MEDIA.ociManifest),
      403,
      "DENIED",
    );
    await refusedGet("/v2/bobns/secret/tags/list", 404, "NAME_UNKNOWN");
  });
});

describe("listing", () => {
  it("lists tags in order, n at a time after last, with a Link to the next page", async () => {
    const pushed = await alice.pushImage("alicens/tags", "t0");
    for (const t of ["t3", "t1", "t4", "t2"]) {
      await alice.putManifest("alicens/tags", t, pushed.bytes.toString(), MEDIA.ociManifest);
    }
    const all = await alice.request("GET", "/v2/alicens/tags/tags/list");
    expect(await all.json()).toEqual({
      name: "alicens/tags",
      tags: ["t0", "t1", "t2", "t3", "t4"],
    });
    expect(all.headers.get("link")).toBeNull();
    const first = await alice.request("GET", "/v2/alicens/tags/tags/list?n=2");
    expect((await json<{ tags: string[] }>(first)).tags).toEqual(["t0", "t1"]);
    const link = first.headers.get("link")!;
    expect(link).toBe('</v2/alicens/tags/tags/list?n=2&last=t1>; rel="next"');
    const next = await alice.request("GET", link.slice(1, link.indexOf(">")));
    expect((await json<{ tags: string[] }>(next)).tags).toEqual(["t2", "t3"]);
    const last = await alice.request("GET", "/v2/alicens/tags/tags/list?n=2&last=t3");
    expect((await json<{ tags: string[] }>(last)).tags).toEqual(["t4"]);
    expect(last.headers.get("link")).toBeNull();
    const none = await alice.request("GET", "/v2/alicens/tags/tags/list?n=0");
    expect((await json<{ tags: string[] }>(none)).tags).toEqual([]);
    await refusedGet("/v2/alicens/tags/tags/list?n=abc", 400, "PAGINATION_NUMBER_INVALID");
    await refusedGet("/v2/alicens/none/tags/list", 404, "NAME_UNKNOWN");
  });

  it("lists only the caller's repositories in the catalog, paginated", async () => {
    const r = await alice.request("GET", "/v2/_catalog");
    const { repositories } = (await r.json()) as { repositories: string[] };
    expect(repositories.length).toBeGreaterThan(2);
    expect(repositories.every((n) => n.startsWith("alicens/"))).toBe(true);
    expect([...repositories].sort()).toEqual(repositories);
    expect(repositories).toContain("alicens/app");
    // Uploads alone (no manifest) do not make a repository appear.
    expect(repositories).not.toContain("alicens/mono");
    const page = await alice.request("GET", "/v2/_catalog?n=1");
    expect((await json<{ repositories: string[] }>(page)).repositories).toEqual([repositories[0]]);
    expect(page.headers.get("link")).toBe(
      `</v2/_catalog?n=1&last=${encodeURIComponent(repositories[0]!)}>; rel="next"`,
    );
    const bobs = (await (await bob.request("GET", "/v2/_catalog")).json()) as {
      repositories: string[];
    };
    expect(bobs.repositories).toEqual(["bobns/secret"]);
  });

  it("lists referrers of a subject, filtered by artifact type", async () => {
    const subject = await alice.pushImage("alicens/refs", "v1");
    const { response: r, body: bytes } = await alice.pushReferrer(
      "alicens/refs",
      subject,
      "application/spdx+json",
      "sbom",
      { annotations: { "org.example": "yes" } },
    );
    expect(r.status).toBe(201);
    expect(r.headers.get("oci-subject")).toBe(subject.digest);
    const list = await alice.request("GET", `/v2/alicens/refs/referrers/${subject.digest}`);
    expect(list.status).toBe(200);
    expect(list.headers.get("content-type")).toBe(MEDIA.ociIndex);
    expect(await list.json()).toEqual({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [
        {
          mediaType: MEDIA.ociManifest,
          digest: sha256(bytes),
          size: bytes.length,
          artifactType: "application/spdx+json",
          annotations: { "org.example": "yes" },
        },
      ],
    });
    const filtered = await alice.request(
      "GET",
      `/v2/alicens/refs/referrers/${subject.digest}?artifactType=application/other`,
    );
    expect(filtered.headers.get("oci-filters-applied")).toBe("artifactType");
    expect((await json<{ manifests: unknown[] }>(filtered)).manifests).toEqual([]);
    const none = await alice.request("GET", `/v2/alicens/refs/referrers/${sha256("nothing")}`);
    expect((await json<{ manifests: unknown[] }>(none)).manifests).toEqual([]);
    await refusedGet("/v2/alicens/refs/referrers/sha256:zz", 400, "DIGEST_INVALID");
  });
});
