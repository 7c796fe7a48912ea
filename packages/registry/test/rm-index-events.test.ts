import { beforeAll, describe, expect, it } from "vitest";
import { createNamespace, MEDIA_TYPES, removeImages, storeImage, untagImages } from "../src/index";
import { createTestImage } from "../src/testing";
import { forFile, setup } from "./helpers";

// image.rm of an index that takes its untagged platform manifests with it: one event per
// manifest removed, so no deletion goes unaudited.

const env = await forFile(setup());
beforeAll(async () => {
  await createNamespace(env.ctx(env.alice), { name: "rmidx" });
});

describe("image.rm of an index", () => {
  it("writes one image.rm event per manifest removed, the platforms' naming their index", async () => {
    const base = {
      accountId: env.alice.account.id,
      region: "us-south" as const,
      repository: "rmidx/tool",
    };
    const platforms = [];
    for (const architecture of ["amd64", "arm64"]) {
      platforms.push(
        await createTestImage(env.t.db, env.store, { ...base, tag: architecture, architecture }),
      );
    }
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociIndex,
        manifests: platforms.map((p) => ({
          mediaType: MEDIA_TYPES.ociManifest,
          digest: p.digest,
          size: p.size,
        })),
      }),
    );
    const stored = await storeImage(env.t.db, env.store, {
      ...base,
      tag: "latest",
      manifest: index,
      mediaType: MEDIA_TYPES.ociIndex,
      blobs: [],
    });
    await untagImages(env.ctx(env.alice), { images: ["rmidx/tool:amd64", "rmidx/tool:arm64"] });
    const ctx = env.ctx(env.alice);
    await removeImages(ctx, { images: ["rmidx/tool:latest"] });
    const events = await env.events(ctx.requestId);
    expect(
      events.map((e) => [e.action, e.outcome, e.target.name, e.responseData?.index]).sort(),
    ).toEqual(
      [
        ["container-registry.image.rm", "success", "rmidx/tool:latest", undefined],
        ...platforms.map((p) => [
          "container-registry.image.rm",
          "success",
          `rmidx/tool@${p.digest}`,
          stored.digest,
        ]),
      ].sort(),
    );
  });
});
