import { createHash, randomBytes } from "node:crypto";
import { MB, STORAGE_QUOTA_MESSAGE, trafficMonth } from "@berth/core";
import { manifests, pullTraffic, repositories, repositoryBlobs, tags } from "@berth/db";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { createAccount } from "../src/accounts/accounts";
import type { RegistryContext } from "../src/context";
import { RegistryError } from "../src/errors";
import { createNamespace } from "../src/namespaces/create";
import { deleteManifestByDigest } from "../src/oci/delete-manifest";
import { OciFailure, ociErrorInfo } from "../src/oci/errors";
import { pushManifest } from "../src/oci/manifests";
import { pullManifest } from "../src/oci/pull-manifest";
import { PENDING_GRACE_MS, pushUsage } from "../src/oci/quota";
import { appendUpload, finishUpload, startUpload } from "../src/oci/uploads";
import { setQuota } from "../src/quota/set";
import { storageUsage } from "../src/quota/usage";
import { DigestMismatchError } from "../src/storage/blob-store";
import { forFile, setup } from "./helpers";

const env = await forFile(setup({ alice: ["alicens"] }));
let ctx: RegistryContext;

const sha256 = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

async function upload(repository: string, bytes: Buffer, c = env.ctx(env.alice)): Promise<string> {
  const { id } = await startUpload(c, { repository });
  await appendUpload(c, { repository, id, source: bytes });
  return (await finishUpload(c, { repository, id, digest: sha256(bytes) })).digest;
}

function manifest(
  config: { digest: string; size: number },
  layers: { digest: string; size: number }[],
) {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
      layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", ...l })),
    }),
  );
}

describe("push, pull and delete", () => {
  it("writes manifest, tag and push event together; a refused push leaves nothing behind", async () => {
    ctx = env.ctx(env.alice);
    const config = Buffer.from("{}");
    const body = manifest({ digest: sha256(config), size: 2 }, []);
    await expect(
      pushManifest(ctx, { repository: "alicens/fresh", reference: "v1", body }),
    ).rejects.toMatchObject({ detail: "MANIFEST_BLOB_UNKNOWN", status: 400 });
    const repos = await env.t.db
      .select()
      .from(repositories)
      .where(eq(repositories.name, "alicens/fresh"));
    expect(repos).toEqual([]);
    const [failure] = await env.events(ctx.requestId);
    expect([failure?.outcome, failure?.target.name]).toEqual(["failure", "alicens/fresh:v1"]);

    const ok = env.ctx(env.alice);
    await upload("alicens/fresh", config, ok);
    const pushed = await pushManifest(ok, { repository: "alicens/fresh", reference: "v1", body });
    expect(pushed.digest).toBe(sha256(body));
    const [event] = await env.events(ok.requestId);
    expect(event?.outcome).toBe("success");
    expect(event?.target.id.endsWith(`:image:alicens/fresh@${pushed.digest}`)).toBe(true);
    expect(event?.responseData).toEqual({ digest: pushed.digest, created: true });
    const tagRows = await env.t.db
      .select()
      .from(tags)
      .innerJoin(manifests, eq(manifests.id, tags.manifestId));
    expect(tagRows.some((t) => t.tags.name === "v1" && t.manifests.digest === pushed.digest)).toBe(
      true,
    );
  });

  it("counts the manifest as pull traffic once its pull is committed", async () => {
    const c = env.ctx(env.alice);
    const pulled = await pullManifest(c, { repository: "alicens/fresh", reference: "v1" });
    // Counted while the answer goes out: `counted` settles once it is.
    await pulled.counted;
    const [row] = await env.t.db
      .select()
      .from(pullTraffic)
      .where(eq(pullTraffic.accountId, env.alice.account.id));
    expect(row?.month).toBe(trafficMonth(new Date()));
    expect(row?.bytes).toBe(pulled.size);
    const [event] = await env.events(c.requestId);
    expect([event?.action, event?.outcome]).toEqual(["container-registry.image.pull", "success"]);
    // Bob cannot see Alice's repository, and that is his failed pull, in his account.
    const b = env.ctx(env.bob);
    await expect(
      pullManifest(b, { repository: "alicens/fresh", reference: "v1" }),
    ).rejects.toMatchObject({
      ociCode: "NAME_UNKNOWN",
    });
    const [bobs] = await env.events(b.requestId);
    expect(bobs?.target.id).toContain(`a/${env.bob.account.id}::`);
  });

  it("deletes a manifest by digest with its tags", async () => {
    const c = env.ctx(env.alice);
    const pulled = await pullManifest(env.ctx(env.alice), {
      repository: "alicens/fresh",
      reference: "v1",
    });
    const deleted = await deleteManifestByDigest(c, {
      repository: "alicens/fresh",
      reference: pulled.digest,
    });
    expect(deleted).toEqual({ digest: pulled.digest, tags: ["v1"], children: [] });
    const [event] = await env.events(c.requestId);
    expect([event?.severity, event?.reason.reasonCode]).toEqual(["critical", 202]);
  });
});

describe("storage quota inside a push", () => {
  it("lets the push that crosses the limit finish and refuses the next one", async () => {
    const carol = await createAccount(env.t.db, { name: "carol" });
    const c = () => env.ctx(carol);
    await createNamespace(c(), { name: "carolns" });
    await setQuota(c(), { storageMb: 1 });
    const big = [randomBytes(600_000), randomBytes(600_000)];
    const config = Buffer.from('{"os":"linux"}');
    const digests: string[] = [];
    for (const b of [...big, config]) digests.push(await upload("carolns/app", b, c()));
    expect(await pushUsage(env.t.db, carol.account.id, "us-south")).toEqual({
      stored: 0,
      pending: 1_200_000 + config.length,
      stalePending: 0,
    });
    const body = manifest(
      { digest: digests[2]!, size: config.length },
      big.map((b, i) => ({ digest: digests[i]!, size: b.length })),
    );
    await pushManifest(c(), { repository: "carolns/app", reference: "v1", body });
    const usage = await pushUsage(env.t.db, carol.account.id, "us-south");
    expect(usage).toEqual({
      stored: 1_200_000 + config.length + body.length,
      pending: 0,
      stalePending: 0,
    });
    expect(usage.stored).toBe(await storageUsage(env.t.db, carol.account.id, "us-south"));
    expect(usage.stored).toBeGreaterThan(MB);
    const refused = c();
    await expect(startUpload(refused, { repository: "carolns/app" })).rejects.toMatchObject({
      status: 403,
      message: STORAGE_QUOTA_MESSAGE,
    });
    const [event] = await env.events(refused.requestId);
    expect([event?.action, event?.reason.reasonForFailure]).toEqual([
      "container-registry.image.push",
      STORAGE_QUOTA_MESSAGE,
    ]);
  });

  it("counts uploads that no manifest took up within the grace period", async () => {
    const dave = await createAccount(env.t.db, { name: "dave" });
    const c = () => env.ctx(dave);
    await createNamespace(c(), { name: "davens" });
    await setQuota(c(), { storageMb: 1 });
    const digest = await upload("davens/app", randomBytes(1_100_000), c());
    // Fresh: the push it belongs to may go on.
    await startUpload(c(), { repository: "davens/app" });
    await env.t.db
      .update(repositoryBlobs)
      .set({ createdAt: new Date(Date.now() - PENDING_GRACE_MS - 60_000) })
      .where(eq(repositoryBlobs.digest, digest));
    expect((await pushUsage(env.t.db, dave.account.id, "us-south")).stalePending).toBe(1_100_000);
    await expect(startUpload(c(), { repository: "davens/app" })).rejects.toMatchObject({
      status: 403,
    });
  });
});

describe("OCI errors", () => {
  it("maps every error to the spec's code and status, hiding internal details", () => {
    expect(ociErrorInfo(new OciFailure("BLOB_UPLOAD_INVALID", "out of order", 416))).toEqual({
      code: "BLOB_UPLOAD_INVALID",
      status: 416,
      message: "out of order",
    });
    expect(ociErrorInfo(new RegistryError("QUOTA_EXCEEDED", STORAGE_QUOTA_MESSAGE))).toEqual({
      code: "DENIED",
      status: 403,
      message: STORAGE_QUOTA_MESSAGE,
    });
    expect(ociErrorInfo(new RegistryError("NOT_FOUND", "x", "MANIFEST_UNKNOWN")).code).toBe(
      "MANIFEST_UNKNOWN",
    );
    expect(ociErrorInfo(new DigestMismatchError("sha256:a", "sha256:b")).code).toBe(
      "DIGEST_INVALID",
    );
    expect(ociErrorInfo(new Error("connection to 10.0.0.1 refused"))).toEqual({
      code: "UNKNOWN",
      status: 500,
      message: "internal error",
    });
    const failure = new OciFailure("MANIFEST_INVALID", "too big", 413);
    expect(failure).toBeInstanceOf(RegistryError);
    expect(failure.status).toBe(413);
    expect(failure.reasonType).toBe("Payload Too Large");
  });
});
