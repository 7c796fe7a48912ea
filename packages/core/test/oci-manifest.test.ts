import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MAX_MANIFEST_BYTES, MEDIA_TYPES, OciError, parseManifest } from "../src/index";

const d = (c: string, mediaType: string = MEDIA_TYPES.ociLayerGzip, size = 10) => ({
  mediaType,
  digest: `sha256:${c.repeat(64)}`,
  size,
});
const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));

function expectOci(fn: () => unknown, code: string, text?: RegExp) {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OciError);
    expect((e as OciError).code).toBe(code);
    if (text) expect((e as OciError).message).toMatch(text);
    return;
  }
  throw new Error("expected an OciError");
}

describe("parseManifest", () => {
  it("reads an OCI image manifest", () => {
    const m = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: d("a", MEDIA_TYPES.ociConfig),
      layers: [d("b"), d("c")],
    };
    const p = parseManifest(enc(m), MEDIA_TYPES.ociManifest);
    expect(p.kind).toBe("image");
    expect(p.config?.digest).toBe(`sha256:${"a".repeat(64)}`);
    expect(p.layers.map((l) => l.digest[7])).toEqual(["b", "c"]);
    expect(p.artifactType).toBeUndefined();
  });

  it("takes the media type from Content-Type or the shape when the body has none", () => {
    const image = { schemaVersion: 2, config: d("a", MEDIA_TYPES.dockerConfig), layers: [] };
    expect(parseManifest(enc(image), MEDIA_TYPES.dockerManifest).mediaType).toBe(
      MEDIA_TYPES.dockerManifest,
    );
    expect(parseManifest(enc(image)).mediaType).toBe(MEDIA_TYPES.ociManifest);
    const index = { schemaVersion: 2, manifests: [d("e", MEDIA_TYPES.ociManifest)] };
    const p = parseManifest(enc(index));
    expect(p.kind).toBe("index");
    expect(p.manifests).toHaveLength(1);
  });

  it("reads a Docker manifest list with platforms, and a subject for referrers", () => {
    const list = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.dockerManifestList,
      manifests: [
        { ...d("e", MEDIA_TYPES.dockerManifest), platform: { architecture: "arm64", os: "linux" } },
      ],
    };
    expect(parseManifest(enc(list), MEDIA_TYPES.dockerManifestList).kind).toBe("index");
    const artifact = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      artifactType: "application/vnd.example.sbom",
      config: d("0", MEDIA_TYPES.ociEmpty, 2),
      layers: [d("1", "application/json")],
      subject: d("f", MEDIA_TYPES.ociManifest),
    };
    const p = parseManifest(enc(artifact), MEDIA_TYPES.ociManifest);
    expect(p.subject?.digest).toBe(`sha256:${"f".repeat(64)}`);
    expect(p.artifactType).toBe("application/vnd.example.sbom");
  });

  it("refuses malformed, mismatched, schema 1 and oversize manifests with the right code", () => {
    expectOci(
      () => parseManifest(new TextEncoder().encode("{not json")),
      "MANIFEST_INVALID",
      /JSON/,
    );
    expectOci(() => parseManifest(enc([1, 2])), "MANIFEST_INVALID", /object/);
    expectOci(
      () =>
        parseManifest(
          enc({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] }),
          MEDIA_TYPES.ociManifest,
        ),
      "MANIFEST_INVALID",
      /does not match/,
    );
    expectOci(() => parseManifest(enc({ schemaVersion: 1, name: "x" })), "UNSUPPORTED");
    expectOci(
      () =>
        parseManifest(
          enc({ schemaVersion: 2, config: { ...d("a"), digest: "sha256:xyz" }, layers: [] }),
        ),
      "MANIFEST_INVALID",
      /config\.digest/,
    );
    expectOci(
      () =>
        parseManifest(enc({ schemaVersion: 2, config: d("a"), layers: [{ ...d("b"), size: -1 }] })),
      "MANIFEST_INVALID",
      /layers\.0\.size/,
    );
    expectOci(
      () => parseManifest(new Uint8Array(MAX_MANIFEST_BYTES + 1)),
      "MANIFEST_INVALID",
      /limit/,
    );
    expectOci(
      () =>
        parseManifest(
          enc({ schemaVersion: 2, config: d("a"), layers: [] }),
          "application/vnd.example+json",
        ),
      "MANIFEST_INVALID",
      /unsupported manifest media type/,
    );
  });

  it("never throws anything but an OciError on arbitrary input", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.json(), fc.string()),
        fc.option(fc.constantFrom(...Object.values(MEDIA_TYPES))),
        (body, ct) => {
          try {
            parseManifest(new TextEncoder().encode(body), ct ?? undefined);
          } catch (e) {
            expect(e).toBeInstanceOf(OciError);
          }
        },
      ),
    );
  });
});
