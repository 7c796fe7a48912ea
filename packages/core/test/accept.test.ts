import { describe, expect, it } from "vitest";
import { acceptedMediaRanges, MEDIA_TYPES, mediaTypeAccepted } from "../src/index";

describe("Accept negotiation of manifests", () => {
  it.each([
    [undefined, undefined],
    ["", undefined],
    ["*/*", undefined],
    [`${MEDIA_TYPES.ociManifest}, */*;q=0.1`, undefined],
    [MEDIA_TYPES.ociManifest, [MEDIA_TYPES.ociManifest]],
    [
      `${MEDIA_TYPES.dockerManifest};q=0.9, ${MEDIA_TYPES.ociIndex.toUpperCase()}`,
      [MEDIA_TYPES.dockerManifest, MEDIA_TYPES.ociIndex],
    ],
    [`${MEDIA_TYPES.ociManifest};q=0, ${MEDIA_TYPES.dockerManifest}`, [MEDIA_TYPES.dockerManifest]],
    [`${MEDIA_TYPES.ociManifest}; q=0.0`, []],
    ["application/*", ["application/*"]],
  ])("Accept %j allows %j", (header, ranges) => {
    expect(acceptedMediaRanges(header)).toEqual(ranges);
  });

  it.each([
    [MEDIA_TYPES.ociManifest, undefined, true],
    [MEDIA_TYPES.ociManifest, [MEDIA_TYPES.ociManifest], true],
    [MEDIA_TYPES.ociManifest, [MEDIA_TYPES.dockerManifest], false],
    [MEDIA_TYPES.ociManifest, ["application/*"], true],
    [MEDIA_TYPES.ociManifest, ["text/*"], false],
    [MEDIA_TYPES.ociManifest, [], false],
  ])("%s within %j: %s", (type, ranges, expected) => {
    expect(mediaTypeAccepted(type, ranges)).toBe(expected);
  });
});
