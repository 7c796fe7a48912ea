import { parseImageReference } from "@berth/core";
import { manifests, tags } from "@berth/db";
import { and, asc, eq } from "drizzle-orm";
import { z } from "zod";
import { field, runAuditedRead } from "../audit";
import type { RegistryContext } from "../context";
import { readBlob } from "../storage/blob-store";
import { type Descriptor, parseManifest } from "./manifest";
import { imageTarget, rawImageName, resolveImage } from "./resolve";

export const inspectImageInput = z.object({
  /** "ns/repo:tag" or "ns/repo@digest"; no tag means latest. */
  image: z.string(),
});
export type InspectImageInput = z.input<typeof inspectImageInput>;

export interface ImageDetails {
  image: string;
  repository: string;
  digest: string;
  mediaType: string;
  /** Size of the manifest document. */
  manifestSize: number;
  /** Manifest plus config and layers (compressed), or plus child manifests for an index. */
  size: number;
  /** Tags of this repository that point at the manifest. */
  tags: string[];
  pushedAt: string;
  manifest: Record<string, unknown>;
  /** The image configuration (architecture, os, created, config, rootfs, history). */
  config: Record<string, unknown> | null;
  layers: { digest: string; size: number; mediaType: string }[];
  /** For an index: the platform manifests. */
  manifests: {
    digest: string;
    size: number;
    mediaType: string;
    platform?: { architecture: string; os: string; variant?: string };
  }[];
}

/** container-registry.image.inspect */
export function inspectImage(ctx: RegistryContext, raw: unknown): Promise<ImageDetails> {
  return runAuditedRead(ctx, {
    action: "container-registry.image.inspect",
    failure: () => {
      const name = rawImageName(field(raw, "image"));
      return [{ target: { name }, messageDetail: name }];
    },
    read: async (db) => {
      const ref = parseImageReference(inspectImageInput.parse(raw).image);
      const { manifest, repositoryId } = await resolveImage(db, ctx, ref);
      const [row] = await db
        .select({ content: manifests.content })
        .from(manifests)
        .where(eq(manifests.id, manifest.id));
      const parsed = parseManifest(row!.content, manifest.mediaType);
      const tagRows = await db
        .select({ name: tags.name })
        .from(tags)
        .where(and(eq(tags.repositoryId, repositoryId), eq(tags.manifestId, manifest.id)))
        .orderBy(asc(tags.name));
      const config = parsed.config ? await readConfig(ctx, parsed.config) : null;
      const refs = [
        ...(parsed.config ? [parsed.config] : []),
        ...parsed.layers,
        ...parsed.manifests,
      ];
      const result: ImageDetails = {
        image: ref.text,
        repository: ref.repository,
        digest: manifest.digest,
        mediaType: manifest.mediaType,
        manifestSize: manifest.size,
        size: manifest.size + refs.reduce((sum, d) => sum + d.size, 0),
        tags: tagRows.map((t) => t.name),
        pushedAt: manifest.createdAt.toISOString(),
        manifest: parsed.json,
        config,
        layers: parsed.layers.map(({ digest, size, mediaType }) => ({ digest, size, mediaType })),
        manifests: parsed.manifests.map(({ digest, size, mediaType, platform }) => ({
          digest,
          size,
          mediaType,
          ...(platform
            ? {
                platform: {
                  architecture: platform.architecture,
                  os: platform.os,
                  ...(platform.variant ? { variant: platform.variant } : {}),
                },
              }
            : {}),
        })),
      };
      return {
        result,
        records: [
          {
            target: imageTarget(ref.text, ref.repository, manifest.digest),
            messageDetail: ref.text,
            responseData: { digest: manifest.digest, mediaType: manifest.mediaType },
          },
        ],
      };
    },
  });
}

/** The config blob as JSON; null for artifacts whose config is not JSON. */
async function readConfig(
  ctx: RegistryContext,
  descriptor: Descriptor,
): Promise<Record<string, unknown> | null> {
  const bytes = await readBlob(ctx.store, descriptor.digest);
  try {
    const json = JSON.parse(bytes.toString("utf8"));
    return json !== null && typeof json === "object" && !Array.isArray(json) ? json : null;
  } catch {
    return null;
  }
}
