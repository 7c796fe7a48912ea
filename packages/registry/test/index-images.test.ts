import { describe, expect, it } from "vitest";
import {
  inspectImage,
  listImages,
  MEDIA_TYPES,
  RegistryError,
  removeImages,
  storageUsage,
  storeImage,
  untagImages,
} from "../src/index";
import { forFile, multiPlatformImage, setup } from "./helpers";

// Multi-platform images: an index whose children live in the same repository.

const env = await forFile(setup({ alice: ["multi"] }));

describe("multi-platform images", () => {
  it("inspect lists the platforms of an index", async () => {
    const { amd, arm, index } = await multiPlatformImage(env, "multi/app");
    const details = await inspectImage(env.ctx(env.alice), { image: "multi/app" });
    expect(details.digest).toBe(index.digest);
    expect(details.mediaType).toBe(MEDIA_TYPES.ociIndex);
    expect(details.config).toBeNull();
    expect(details.manifests).toEqual([
      {
        digest: amd.digest,
        size: amd.size,
        mediaType: MEDIA_TYPES.ociManifest,
        platform: { architecture: "amd64", os: "linux" },
      },
      {
        digest: arm.digest,
        size: arm.size,
        mediaType: MEDIA_TYPES.ociManifest,
        platform: { architecture: "arm64", os: "linux" },
      },
    ]);
  });

  it("rm refuses a platform image that an index still lists, and removes an index with its untagged platforms", async () => {
    const { amd, index } = await multiPlatformImage(env, "multi/tool");
    const error = await removeImages(env.ctx(env.alice), {
      images: [`multi/tool@${amd.digest}`],
    }).catch((e) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).code).toBe("CONFLICT");
    expect((await inspectImage(env.ctx(env.alice), { image: "multi/tool:amd64" })).digest).toBe(
      amd.digest,
    );

    const before = await storageUsage(env.t.db, env.alice.account.id, "us-south");
    await untagImages(env.ctx(env.alice), { images: ["multi/tool:amd64", "multi/tool:arm64"] });
    const res = await removeImages(env.ctx(env.alice), { images: ["multi/tool:latest"] });
    expect(res.removed).toEqual([
      { image: "multi/tool:latest", digest: index.digest, tags: ["latest"] },
    ]);
    for (const ref of [`multi/tool@${amd.digest}`, `multi/tool@${index.digest}`]) {
      const gone = await inspectImage(env.ctx(env.alice), { image: ref }).catch((e) => e);
      expect((gone as RegistryError).code).toBe("NOT_FOUND");
    }
    expect((await listImages(env.ctx(env.alice), { repository: "multi/tool" })).items).toEqual([]);
    expect(await storageUsage(env.t.db, env.alice.account.id, "us-south")).toBeLessThan(before);
  });

  it("refuses to store an index whose platform manifests are missing", async () => {
    const missing = `sha256:${"b".repeat(64)}`;
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociIndex,
        manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest: missing, size: 10 }],
      }),
    );
    const error = await storeImage(env.t.db, env.store, {
      accountId: env.alice.account.id,
      region: "us-south",
      repository: "multi/broken",
      tag: "1",
      manifest: index,
      blobs: [],
    }).catch((e) => e);
    expect(error).toBeInstanceOf(RegistryError);
    expect((error as RegistryError).detail).toBe("MANIFEST_BLOB_UNKNOWN");
  });
});
