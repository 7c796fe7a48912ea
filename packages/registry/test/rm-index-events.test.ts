import { describe, expect, it } from "vitest";
import { removeImages, untagImages } from "../src/index";
import { forFile, multiPlatformImage, setup } from "./helpers";

// image.rm of an index that takes its untagged platform manifests with it: one event per
// manifest removed, so no deletion goes unaudited.

const env = await forFile(setup({ alice: ["rmidx"] }));

describe("image.rm of an index", () => {
  it("writes one image.rm event per manifest removed, the platforms' naming their index", async () => {
    const { amd, arm, index: stored } = await multiPlatformImage(env, "rmidx/tool");
    const platforms = [amd, arm];
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
