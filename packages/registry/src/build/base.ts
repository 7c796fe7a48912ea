import { InvalidReferenceError, parseImageReference } from "@berth/core";
import { manifests } from "@berth/db";
import { and, eq } from "drizzle-orm";
import type { RegistryContext } from "../context";
import { RegistryError } from "../errors";
import { type Descriptor, isIndexMediaType, parseManifest } from "../images/manifest";
import { resolveImage } from "../images/resolve";
import { readBlob } from "../storage/blob-store";
import { type BaseImage, lineError, ociLayerType, parsePlatform } from "./evaluate";

/*
 * FROM: an image of the caller's account in the request's region, by tag or digest. An index
 * is narrowed to one platform: the one --platform names, else linux/amd64, else its only one.
 */

export async function resolveBase(
  ctx: RegistryContext,
  file: string,
  reference: string,
  platform: string | undefined,
  line: number,
): Promise<BaseImage> {
  let ref: ReturnType<typeof parseImageReference>;
  try {
    ref = parseImageReference(reference, { defaultTag: "latest" });
  } catch (error) {
    if (error instanceof InvalidReferenceError) {
      throw lineError(
        file,
        line,
        `FROM ${reference}: ${error.message}. A Berth build starts FROM scratch or from an image of your account in region ${ctx.region}, named <namespace>/<repository>[:tag]`,
      );
    }
    throw error;
  }
  let resolved: Awaited<ReturnType<typeof resolveImage>>;
  try {
    resolved = await resolveImage(ctx.db, ctx, ref);
  } catch (error) {
    if (error instanceof RegistryError && error.code === "NOT_FOUND") {
      throw new RegistryError(
        "NOT_FOUND",
        lineError(file, line, `FROM ${ref.text}: ${error.message}`).message,
        error.detail,
      );
    }
    throw error;
  }
  let manifest = await manifestContent(ctx, resolved.repositoryId, resolved.manifest.digest);
  let parsed = parseManifest(manifest.content, manifest.mediaType);
  let digest = resolved.manifest.digest;
  if (isIndexMediaType(parsed.mediaType)) {
    const child = choosePlatform(parsed.manifests, platform, (problem) => {
      throw lineError(file, line, `FROM ${ref.text}: ${problem}`);
    });
    manifest = await manifestContent(ctx, resolved.repositoryId, child.digest);
    parsed = parseManifest(manifest.content, manifest.mediaType);
    digest = child.digest;
    if (isIndexMediaType(parsed.mediaType)) {
      throw lineError(file, line, `FROM ${ref.text}: nested image indexes are not supported`);
    }
  }
  if (!parsed.config) throw lineError(file, line, `FROM ${ref.text}: the manifest has no config`);
  let config: Record<string, unknown>;
  try {
    const value: unknown = JSON.parse(
      (await readBlob(ctx.store, parsed.config.digest)).toString("utf8"),
    );
    if (value === null || typeof value !== "object" || Array.isArray(value))
      throw new Error("not an object");
    config = value as Record<string, unknown>;
  } catch {
    throw lineError(
      file,
      line,
      `FROM ${ref.text}: its config ${parsed.config.digest} is not an image configuration`,
    );
  }
  const diffIds = (config.rootfs as { diff_ids?: unknown } | undefined)?.diff_ids;
  if (!Array.isArray(diffIds) || diffIds.length !== parsed.layers.length) {
    throw lineError(
      file,
      line,
      `FROM ${ref.text}: its config lists ${Array.isArray(diffIds) ? diffIds.length : "no"} layers but its manifest ${parsed.layers.length}; it is not a runnable image`,
    );
  }
  if (platform !== undefined) {
    const wanted = parsePlatform(platform);
    if (
      wanted &&
      (config.os !== wanted.os ||
        config.architecture !== wanted.architecture ||
        (wanted.variant !== undefined && config.variant !== wanted.variant))
    ) {
      throw lineError(
        file,
        line,
        `FROM ${ref.text}: the image is ${config.os}/${config.architecture}, not ${platform}`,
      );
    }
  }
  return {
    reference: ref.text,
    digest,
    layers: parsed.layers.map((l) => ({
      mediaType: ociLayerType(l.mediaType),
      digest: l.digest,
      size: l.size,
      ...(l.annotations ? { annotations: l.annotations } : {}),
    })),
    config,
  };
}

async function manifestContent(
  ctx: RegistryContext,
  repositoryId: string,
  digest: string,
): Promise<{ content: Buffer; mediaType: string }> {
  const [row] = await ctx.db
    .select({ content: manifests.content, mediaType: manifests.mediaType })
    .from(manifests)
    .where(and(eq(manifests.repositoryId, repositoryId), eq(manifests.digest, digest)));
  if (!row) {
    throw new RegistryError(
      "NOT_FOUND",
      `manifest ${digest} is not in the repository`,
      "MANIFEST_UNKNOWN",
    );
  }
  return { content: Buffer.from(row.content), mediaType: row.mediaType };
}

function choosePlatform(
  entries: Descriptor[],
  platform: string | undefined,
  fail: (problem: string) => never,
): Descriptor {
  const images = entries.filter((m) => m.platform);
  const name = (m: Descriptor) =>
    `${m.platform!.os}/${m.platform!.architecture}${m.platform!.variant ? `/${m.platform!.variant}` : ""}`;
  const wanted = platform ?? "linux/amd64";
  const exact = images.find((m) => name(m) === wanted);
  if (exact) return exact;
  const loose = parsePlatform(wanted);
  const near = images.find(
    (m) =>
      loose &&
      m.platform!.os === loose.os &&
      m.platform!.architecture === loose.architecture &&
      !loose.variant,
  );
  if (near) return near;
  if (platform === undefined && entries.length === 1) return entries[0]!;
  const offered = images.map(name).join(", ") || "none";
  return fail(
    `the index has no ${wanted} image (it has: ${offered}); choose one with FROM --platform=<os>/<arch>`,
  );
}
