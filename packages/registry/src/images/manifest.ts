import { createHash } from "node:crypto";
import { digestProblem, MEDIA_TYPES } from "@berth/core";
import { z } from "zod";
import { RegistryError } from "../errors";

// The media types are core's list (one list for every package); exported here too because
// the registry's own modules and its test helpers import them from here.
export { MEDIA_TYPES };

const IMAGE_MANIFEST_TYPES: ReadonlySet<string> = new Set([
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifest,
]);
const INDEX_TYPES: ReadonlySet<string> = new Set([
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifestList,
]);

export function isIndexMediaType(mediaType: string): boolean {
  return INDEX_TYPES.has(mediaType);
}

const digest = z.string().refine((d) => digestProblem(d) === undefined, "invalid digest");
const descriptor = z.looseObject({
  mediaType: z.string().min(1),
  digest,
  size: z.int().nonnegative(),
  artifactType: z.string().optional(),
  platform: z
    .looseObject({ architecture: z.string(), os: z.string(), variant: z.string().optional() })
    .optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type Descriptor = z.infer<typeof descriptor>;

const imageManifest = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  config: descriptor,
  layers: z.array(descriptor),
  subject: descriptor.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});
const indexManifest = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType: z.string().optional(),
  manifests: z.array(descriptor),
  subject: descriptor.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export interface ParsedManifest {
  kind: "image" | "index";
  mediaType: string;
  config?: Descriptor;
  layers: Descriptor[];
  /** Child manifests of an index. */
  manifests: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  json: Record<string, unknown>;
}

function invalid(message: string): RegistryError {
  return new RegistryError("BAD_REQUEST", `manifest invalid: ${message}`, "MANIFEST_INVALID");
}

/**
 * Parse an image manifest or index (OCI or Docker schema 2). The media type comes from the
 * manifest's own field, else from the Content-Type it was sent with, else from its shape;
 * the two must agree when both are given.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw invalid("not JSON");
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw invalid("not a JSON object");
  }
  const obj = json as Record<string, unknown>;
  const declared = typeof obj.mediaType === "string" ? obj.mediaType : undefined;
  const sent = contentType?.split(";")[0]?.trim() || undefined;
  if (declared && sent && declared !== sent && sent !== "application/json") {
    throw invalid(`mediaType ${declared} does not match Content-Type ${sent}`);
  }
  const mediaType =
    declared ??
    (sent && sent !== "application/json" ? sent : undefined) ??
    ("manifests" in obj ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest);
  if (INDEX_TYPES.has(mediaType)) {
    const parsed = indexManifest.safeParse(obj);
    if (!parsed.success) throw invalid(parsed.error.issues[0]?.message ?? "bad index");
    return {
      kind: "index",
      mediaType,
      layers: [],
      manifests: parsed.data.manifests,
      ...(parsed.data.subject ? { subject: parsed.data.subject } : {}),
      ...(parsed.data.artifactType ? { artifactType: parsed.data.artifactType } : {}),
      json: obj,
    };
  }
  if (!IMAGE_MANIFEST_TYPES.has(mediaType)) throw invalid(`unsupported media type ${mediaType}`);
  const parsed = imageManifest.safeParse(obj);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(`${issue?.path.join(".") ?? ""} ${issue?.message ?? "bad manifest"}`.trim());
  }
  return {
    kind: "image",
    mediaType,
    config: parsed.data.config,
    layers: parsed.data.layers,
    manifests: [],
    ...(parsed.data.subject ? { subject: parsed.data.subject } : {}),
    ...(parsed.data.artifactType ? { artifactType: parsed.data.artifactType } : {}),
    json: obj,
  };
}

export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}
