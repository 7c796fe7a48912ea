import { randomBytes } from "node:crypto";
import { type ReferenceRegistry, startReferenceRegistry } from "@berth/harness";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rid } from "./helpers";
import { expectError, MEDIA, OciClient, sha256 } from "./oci-client";
import { type OciEnv, ok, requireTool, startOciEnv } from "./oci-helpers";

/*
 * Protocol answers of issue 13, asked of Berth and of the reference registry
 * (docker-registry 2.8, the distribution project's) side by side, with curl-style requests
 * and skopeo. Where Berth answers differently on purpose it says so.
 */

let env: OciEnv;
let ref: ReferenceRegistry;
let berth: OciClient;
let reference: OciClient;

beforeAll(async () => {
  await requireTool("skopeo");
  // Distribution reads its configuration from the environment too: deletes enabled.
  process.env.REGISTRY_STORAGE_DELETE_ENABLED = "true";
  [env, ref] = await Promise.all([startOciEnv(), startReferenceRegistry()]);
  await env.namespace(env.alice, "alicens");
  await env.namespace(env.bob, "bobns");
  berth = OciClient.basic(env.url(), "iamapikey", env.alice.apiKey);
  reference = new OciClient(ref.url);
}, 120_000);
afterAll(async () => {
  await Promise.all([env?.close(), ref?.close()]);
  delete process.env.REGISTRY_STORAGE_DELETE_ENABLED;
});

/** The same request to both registries. */
async function both(
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ berth: Response; reference: Response }> {
  const [b, r] = await Promise.all([
    berth.request(method, path, { headers }),
    reference.request(method, path, { headers }),
  ]);
  return { berth: b, reference: r };
}

async function code(r: Response): Promise<string | undefined> {
  const text = await r.text();
  try {
    return (JSON.parse(text) as { errors?: { code: string }[] }).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}

/** POST + PUT of a blob, following the Location as given (the reference's is absolute, with a query). */
async function pushBlob(client: OciClient, repo: string, bytes: Buffer): Promise<string> {
  const digest = sha256(bytes);
  const start = await client.request("POST", `/v2/${repo}/blobs/uploads/`);
  expect(start.status, await start.clone().text()).toBe(202);
  const url = new URL(start.headers.get("location")!, client.base);
  url.searchParams.set("digest", digest);
  const put = await client.request("PUT", `${url.pathname}${url.search}`, {
    body: bytes,
    headers: { "content-type": "application/octet-stream" },
  });
  expect(put.status, await put.clone().text()).toBe(201);
  return digest;
}

/** Push the same OCI image to both; returns what was pushed (same digests on both). */
async function pushBoth(repo: string, tag: string) {
  const layer = randomBytes(1500);
  const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", tag }));
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: sha256(config), size: config.length },
      layers: [{ mediaType: MEDIA.ociLayer, digest: sha256(layer), size: layer.length }],
    }),
  );
  for (const client of [berth, reference]) {
    await pushBlob(client, repo, config);
    await pushBlob(client, repo, layer);
    const put = await client.putManifest(repo, tag, bytes.toString(), MEDIA.ociManifest);
    expect(put.status, await put.clone().text()).toBe(201);
  }
  return { digest: sha256(bytes), bytes, config: sha256(config), layers: [sha256(layer)] };
}

describe("manifest reads", () => {
  it("answers 404 to a GET or HEAD whose reference is not a valid tag (MANIFEST_UNKNOWN, not MANIFEST_INVALID)", async () => {
    await pushBoth("alicens/bad", "v1");
    for (const method of ["GET", "HEAD"]) {
      const r = await both(method, "/v2/alicens/bad/manifests/.INVALID_MANIFEST_NAME");
      expect(r.reference.status, `reference ${method}`).toBe(404);
      expect(r.berth.status, `Berth ${method}`).toBe(404);
      if (method === "GET") expect(await code(r.berth)).toBe("MANIFEST_UNKNOWN");
    }
    // A push of that name is still refused as invalid.
    const put = await berth.putManifest("alicens/bad", ".INVALID_MANIFEST_NAME", "{}");
    await expectError(put, 400, "MANIFEST_INVALID");
  });

  it("honours Accept: one type accepted gets that type or 404 MANIFEST_UNKNOWN, and HEAD answers as GET", async () => {
    const image = await pushBoth("alicens/accept", "v1");
    const path = "/v2/alicens/accept/manifests/v1";
    // Only the Docker type accepted, the manifest is OCI: both 404 MANIFEST_UNKNOWN.
    const dockerOnly = { accept: MEDIA.dockerManifest };
    const refused = await both("GET", path, dockerOnly);
    expect(refused.reference.status).toBe(404);
    expect(await code(refused.reference)).toBe("MANIFEST_UNKNOWN");
    const message = await expectError(refused.berth, 404, "MANIFEST_UNKNOWN");
    expect(message).toContain(MEDIA.ociManifest);
    expect(message).toContain(MEDIA.dockerManifest);
    const head = await both("HEAD", path, dockerOnly);
    expect([head.berth.status, head.reference.status]).toEqual([404, 404]);
    // A refused pull counts no traffic and is audited as a failed pull.
    const id = rid("unaccepted");
    const r = await berth.withRequestId(id).request("GET", path, { headers: dockerOnly });
    expect(r.status).toBe(404);
    const [event] = await env.events(id);
    expect([event?.event.action, event?.event.outcome]).toEqual([
      "container-registry.image.pull",
      "failure",
    ]);

    // The OCI type accepted (alone, among others, with q): served as stored.
    for (const accept of [
      MEDIA.ociManifest,
      `${MEDIA.dockerManifest}, ${MEDIA.ociManifest}`,
      `${MEDIA.ociManifest};q=0.5, ${MEDIA.dockerManifest}`,
    ]) {
      const got = await both("GET", path, { accept });
      for (const [who, res] of Object.entries(got)) {
        expect(res.status, `${who} with Accept ${accept}`).toBe(200);
        expect(res.headers.get("content-type")).toBe(MEDIA.ociManifest);
        expect(res.headers.get("docker-content-digest")).toBe(image.digest);
        expect(Buffer.from(await res.arrayBuffer()).equals(image.bytes)).toBe(true);
      }
      const heads = await both("HEAD", path, { accept });
      for (const [who, res] of Object.entries(heads)) {
        expect(res.status, `${who} HEAD with Accept ${accept}`).toBe(200);
        expect(res.headers.get("content-type")).toBe(MEDIA.ociManifest);
        expect(res.headers.get("content-length")).toBe(String(image.bytes.length));
        expect(res.headers.get("docker-content-digest")).toBe(image.digest);
      }
    }
    // A wildcard range accepts the type too (the reference ignores such ranges).
    const wildcard = await berth.request("GET", path, { headers: { accept: "application/*" } });
    expect(wildcard.status).toBe(200);
    // q=0 refuses a type.
    const zero = await berth.request("GET", path, {
      headers: { accept: `${MEDIA.ociManifest};q=0, ${MEDIA.dockerManifest}` },
    });
    await expectError(zero, 404, "MANIFEST_UNKNOWN");
    // Without Accept the reference answers 404 for an OCI manifest; Berth serves it as
    // stored (the spec leaves it to the registry; clients that send none get the bytes).
    expect((await berth.request("GET", path)).status).toBe(200);

    // skopeo asks with every type it knows: the same raw manifest from both.
    const raws = await Promise.all(
      [env.host, new URL(ref.url).host].map((host) =>
        ok(
          "skopeo",
          [
            "inspect",
            "--raw",
            "--tls-verify=false",
            ...(host === env.host ? ["--creds", `iamapikey:${env.alice.apiKey}`] : []),
            `docker://${host}/alicens/accept:v1`,
          ],
          { env: env.clientEnv },
        ),
      ),
    );
    expect(raws[0]).toBe(raws[1]);
    expect(raws[0]!.trimEnd()).toBe(image.bytes.toString());
  });
});

describe("manifest and tag deletes", () => {
  it("deletes a tag, not the manifest, on DELETE by tag (spec 1.1), audited as image.untag", async () => {
    const image = await berth.pushImage("alicens/untag", "v1");
    const second = await berth.putManifest(
      "alicens/untag",
      "v2",
      image.bytes.toString(),
      MEDIA.ociManifest,
    );
    expect(second.status).toBe(201);
    const id = rid("delete-tag");
    const r = await berth.withRequestId(id).request("DELETE", "/v2/alicens/untag/manifests/v1");
    expect(r.status, await r.clone().text()).toBe(202);
    const events = await env.events(id);
    expect(events).toHaveLength(1);
    expect(events[0]!.event.action).toBe("container-registry.image.untag");
    expect(events[0]!.event.outcome).toBe("success");
    expect(events[0]!.event.target.name).toBe("alicens/untag:v1");
    await expectError(
      await berth.request("GET", "/v2/alicens/untag/manifests/v1"),
      404,
      "MANIFEST_UNKNOWN",
    );
    // The manifest stays, by digest and under its other tag.
    expect((await berth.request("GET", `/v2/alicens/untag/manifests/${image.digest}`)).status).toBe(
      200,
    );
    expect((await berth.request("GET", "/v2/alicens/untag/manifests/v2")).status).toBe(200);
    const tags = await berth.request("GET", "/v2/alicens/untag/tags/list");
    expect(((await tags.json()) as { tags: string[] }).tags).toEqual(["v2"]);
    // An unknown tag: 404 and a failed untag.
    const againId = rid("delete-tag-again");
    const again = await berth
      .withRequestId(againId)
      .request("DELETE", "/v2/alicens/untag/manifests/v1");
    await expectError(again, 404, "MANIFEST_UNKNOWN");
    const [failed] = await env.events(againId);
    expect([failed?.event.action, failed?.event.outcome]).toEqual([
      "container-registry.image.untag",
      "failure",
    ]);
    // Another account's tag: not found, nothing removed.
    const bob = OciClient.basic(env.url(), "iamapikey", env.bob.apiKey);
    await expectError(
      await bob.request("DELETE", "/v2/alicens/untag/manifests/v2"),
      404,
      "NAME_UNKNOWN",
    );
    expect((await berth.request("GET", "/v2/alicens/untag/manifests/v2")).status).toBe(200);
  });

  it("writes one image.delete event per manifest an index delete removes", async () => {
    const a = await berth.pushImage("alicens/multi", "amd", {
      extra: { annotations: { p: "amd64" } },
    });
    const b = await berth.pushImage("alicens/multi", "arm", {
      extra: { annotations: { p: "arm64" } },
    });
    // Untag the platforms: they then live only through the index.
    for (const tag of ["amd", "arm"]) {
      expect((await berth.request("DELETE", `/v2/alicens/multi/manifests/${tag}`)).status).toBe(
        202,
      );
    }
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [a, b].map((m) => ({
        mediaType: MEDIA.ociManifest,
        digest: m.digest,
        size: m.bytes.length,
      })),
    });
    expect((await berth.putManifest("alicens/multi", "latest", index, MEDIA.ociIndex)).status).toBe(
      201,
    );
    const id = rid("delete-index");
    const r = await berth
      .withRequestId(id)
      .request("DELETE", `/v2/alicens/multi/manifests/${sha256(index)}`);
    expect(r.status, await r.clone().text()).toBe(202);
    const events = await env.events(id);
    expect(
      events.map((e) => [e.event.action, e.event.outcome, e.event.target.name]).sort(),
    ).toEqual(
      [
        ["container-registry.image.delete", "success", `alicens/multi@${sha256(index)}`],
        ["container-registry.image.delete", "success", `alicens/multi@${a.digest}`],
        ["container-registry.image.delete", "success", `alicens/multi@${b.digest}`],
      ].sort(),
    );
    for (const m of [a, b]) {
      await expectError(
        await berth.request("GET", `/v2/alicens/multi/manifests/${m.digest}`),
        404,
        "MANIFEST_UNKNOWN",
      );
    }
  });
});

describe("blob deletes", () => {
  it("keeps a repository's blobs after its manifest is deleted (skopeo delete), deletable once (202), audited", async () => {
    const image = await pushBoth("alicens/keep", "v1");
    // In use: the reference unlinks anyway; Berth refuses while a manifest uses it.
    await expectError(
      await berth.request("DELETE", `/v2/alicens/keep/blobs/${image.config}`),
      409,
      "DENIED",
    );
    for (const [host, creds] of [
      [env.host, ["--creds", `iamapikey:${env.alice.apiKey}`]],
      [new URL(ref.url).host, []],
    ] as const) {
      await ok(
        "skopeo",
        ["delete", "--tls-verify=false", ...creds, `docker://${host}/alicens/keep:v1`],
        {
          env: env.clientEnv,
        },
      );
    }
    for (const digest of [image.config, image.layers[0]!]) {
      const head = await both("HEAD", `/v2/alicens/keep/blobs/${digest}`);
      expect([head.berth.status, head.reference.status]).toEqual([200, 200]);
      const id = rid("delete-blob");
      const [b, r] = await Promise.all([
        berth.withRequestId(id).request("DELETE", `/v2/alicens/keep/blobs/${digest}`),
        reference.request("DELETE", `/v2/alicens/keep/blobs/${digest}`),
      ]);
      expect([b.status, r.status], `delete ${digest}`).toEqual([202, 202]);
      const [event] = await env.events(id);
      expect(event?.event.action).toBe("container-registry.image.delete");
      expect(event?.event.outcome).toBe("success");
      expect(event?.event.target.name).toBe(`alicens/keep@${digest}`);
      expect(event?.event.requestData).toEqual({ kind: "blob" });
      const again = await both("DELETE", `/v2/alicens/keep/blobs/${digest}`);
      expect([again.berth.status, again.reference.status]).toEqual([404, 404]);
      expect([await code(again.berth), await code(again.reference)]).toEqual([
        "BLOB_UNKNOWN",
        "BLOB_UNKNOWN",
      ]);
    }
  });

  it("never lets another account delete or learn about a blob", async () => {
    const image = await berth.pushImage("alicens/secret", "v1");
    expect(
      (await berth.request("DELETE", `/v2/alicens/secret/manifests/${image.digest}`)).status,
    ).toBe(202);
    const bob = OciClient.basic(env.url(), "iamapikey", env.bob.apiKey);
    const id = rid("bob-deletes-blob");
    const stolen = await bob
      .withRequestId(id)
      .request("DELETE", `/v2/alicens/secret/blobs/${image.config}`);
    await expectError(stolen, 404, "NAME_UNKNOWN");
    const [event] = await env.events(id);
    expect(event?.accountId).toBe(env.bob.account.id);
    // In Bob's own repository the digest is just unknown.
    await expectError(
      await bob.request("DELETE", `/v2/bobns/loot/blobs/${image.config}`),
      404,
      "NAME_UNKNOWN",
    );
    expect((await berth.request("HEAD", `/v2/alicens/secret/blobs/${image.config}`)).status).toBe(
      200,
    );
  });
});

describe("auth challenge of a cross-repository mount", () => {
  it("names the source's pull scope beside the target's, and only for a mount", async () => {
    const anon = new OciClient(env.url());
    // A token for the target only.
    const onlyTo = await OciClient.bearer(env.url(), "iamapikey", env.alice.apiKey, [
      "repository:alicens/to:pull",
    ]);
    const digest = sha256("anything");
    const mount = `?mount=${digest}&from=alicens/from`;
    const both = 'scope="repository:alicens/to:pull,push repository:alicens/from:pull"';
    const target = 'scope="repository:alicens/to:pull,push"';
    // What is asked, by whom; what the challenge says, and what it must not say.
    const cases: [string, OciClient, string, string, string?][] = [
      ["an anonymous mount", anon, mount, both],
      ["an anonymous upload", anon, "", target],
      // A `from` that is no repository name is not echoed into the header.
      [
        "a mount from no repository name",
        anon,
        `?mount=${digest}&from=${encodeURIComponent('x",error="y')}`,
        target,
        "error=",
      ],
      // The target's token is challenged for both.
      ["a mount with a token for the target", onlyTo, mount, `${both},error="insufficient_scope"`],
    ];
    for (const [what, client, query, challenge, never] of cases) {
      const r = await client.request("POST", `/v2/alicens/to/blobs/uploads/${query}`);
      expect(r.status, what).toBe(401);
      const header = r.headers.get("www-authenticate");
      expect(header, what).toContain(challenge);
      if (never) expect(header, what).not.toContain(never);
    }
  });
});
