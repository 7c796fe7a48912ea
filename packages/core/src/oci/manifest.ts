import { z } from "zod";
import { digestSchema } from "../reference";
import { OciError } from "./errors";
import { isIndexMediaType, MEDIA_TYPES } from "./media-types";

/** Registries must accept manifests of at least 4 MiB; larger ones are refused. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

const mediaTypePattern =
  /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

const descriptorSchema = z.object({
  mediaType: z.string().regex(mediaTypePattern, "descriptor mediaType is not a media type"),
  digest: digestSchema,
  size: z.number().int().nonnegative(),
  urls: z.array(z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  artifactType: z.string().regex(mediaTypePattern, "artifactType is not a media type").optional(),
  platform: z
    .object({
      architecture: z.string(),
      os: z.string(),
      variant: z.string().optional(),
      "os.version": z.string().optional(),
      "os.features": z.array(z.string()).optional(),
    })
    .optional(),
});

export type Descriptor = z.infer<typeof descriptorSchema>;

/** The spec: an artifactType is a media type (RFC 6838); it is stored and listed as one. */
const artifactType = z
  .string()
  .regex(mediaTypePattern, "artifactType is not a media type")
  .optional();

const imageManifestSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType,
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

const indexSchema = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.string().optional(),
  artifactType,
  manifests: z.array(descriptorSchema),
  subject: descriptorSchema.optional(),
  annotations: z.record(z.string(), z.string()).optional(),
});

export interface ParsedManifest {
  mediaType: string;
  kind: "image" | "index";
  config?: Descriptor;
  layers: Descriptor[];
  /** Child manifests of an index. */
  manifests: Descriptor[];
  subject?: Descriptor;
  artifactType?: string;
  annotations?: Record<string, string>;
}

function invalid(message: string): OciError {
  return new OciError("MANIFEST_INVALID", message);
}

/**
 * Parse and validate a manifest body as PUT by a client. `contentType` is the request's
 * Content-Type; a manifest without a top-level mediaType (allowed by the OCI spec) takes it
 * from there, or from its shape.
 */
export function parseManifest(body: Uint8Array, contentType?: string): ParsedManifest {
  if (body.byteLength > MAX_MANIFEST_BYTES) {
    throw invalid(`manifest is ${body.byteLength} bytes; the limit is ${MAX_MANIFEST_BYTES}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body));
  } catch {
    throw invalid("manifest is not valid UTF-8 JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw invalid("manifest must be a JSON object");
  }
  const obj = json as Record<string, unknown>;
  const header = contentType?.split(";")[0]?.trim().toLowerCase();
  const declared = typeof obj.mediaType === "string" ? obj.mediaType : undefined;
  if (
    obj.schemaVersion === 1 ||
    declared === MEDIA_TYPES.dockerSchema1 ||
    declared === MEDIA_TYPES.dockerSchema1Signed
  ) {
    throw new OciError(
      "UNSUPPORTED",
      "Docker schema 1 manifests are not supported; push schema 2 or OCI",
    );
  }
  if (declared && header && header !== "application/json" && header !== declared) {
    throw invalid(`manifest mediaType ${declared} does not match Content-Type ${header}`);
  }
  const mediaType =
    declared ??
    (header && header !== "application/json" ? header : undefined) ??
    ("manifests" in obj ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.ociManifest);
  const known = [
    MEDIA_TYPES.ociManifest,
    MEDIA_TYPES.ociIndex,
    MEDIA_TYPES.dockerManifest,
    MEDIA_TYPES.dockerManifestList,
  ] as string[];
  if (!known.includes(mediaType)) {
    throw invalid(`unsupported manifest media type ${mediaType}`);
  }
  if (isIndexMediaType(mediaType)) {
    const r = indexSchema.safeParse(obj);
    if (!r.success) throw invalid(`invalid index: ${formatIssue(r.error)}`);
    return {
      mediaType,
      kind: "index",
      layers: [],
      manifests: r.data.manifests,
      subject: r.data.subject,
      artifactType: r.data.artifactType,
      annotations: r.data.annotations,
    };
  }
  const r = imageManifestSchema.safeParse(obj);
  if (!r.success) throw invalid(`invalid image manifest: ${formatIssue(r.error)}`);
  return {
    mediaType,
    kind: "image",
    config: r.data.config,
    layers: r.data.layers,
    manifests: [],
    subject: r.data.subject,
    artifactType:
      r.data.artifactType ??
      (r.data.config.mediaType !== MEDIA_TYPES.ociConfig &&
      r.data.config.mediaType !== MEDIA_TYPES.dockerConfig
        ? r.data.config.mediaType
        : undefined),
    annotations: r.data.annotations,
  };
}

function formatIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return "malformed";
  const path = issue.path.length > 0 ? issue.path.join(".") : "(root)";
  return `${path}: ${issue.message}`;
}
