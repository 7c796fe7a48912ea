import { createHash } from "node:crypto";
import type { RegistryContext } from "../src/context";
import { pushManifest } from "../src/oci/manifests";
import { appendUpload, finishUpload, startUpload } from "../src/oci/uploads";

// Pushes through the use cases, as the OCI handlers make them, for the GC tests.

export const sha256 = (bytes: Buffer) =>
  `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/** A blob through a chunked upload (start, one chunk, finish). */
export async function uploadVia(
  ctx: () => RegistryContext,
  repository: string,
  bytes: Buffer,
): Promise<string> {
  const { id } = await startUpload(ctx(), { repository });
  await appendUpload(ctx(), { repository, id, source: bytes });
  const blob = await finishUpload(ctx(), { repository, id, digest: sha256(bytes) });
  return blob.digest;
}

/** An image of these layers (and a config naming the repository and tag) under `tag`. */
export async function pushVia(
  ctx: () => RegistryContext,
  repository: string,
  tag: string,
  layers: Buffer[],
) {
  const config = Buffer.from(
    JSON.stringify({ architecture: "amd64", os: "linux", repository, tag }),
  );
  const configDigest = await uploadVia(ctx, repository, config);
  const layerDigests: string[] = [];
  for (const l of layers) layerDigests.push(await uploadVia(ctx, repository, l));
  const body = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: configDigest,
        size: config.length,
      },
      layers: layers.map((l, i) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: layerDigests[i],
        size: l.length,
      })),
    }),
  );
  const pushed = await pushManifest(ctx(), {
    repository,
    reference: tag,
    body,
    contentType: "application/vnd.oci.image.manifest.v1+json",
  });
  return { ...pushed, config: configDigest, layers: layerDigests };
}
