import {
  MAX_MANIFEST_BYTES,
  mediaTypeAccepted,
  parseManifest as parseOciManifest,
} from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { manifests, tags } from "@berth/db";
import { and, eq } from "drizzle-orm";
import { runAudited } from "../audit";
import { nowOf, type RegistryContext } from "../context";
import { ensureRepository, writeManifestRows } from "../images/records";
import { imageTarget } from "../images/resolve";
import { refusePushMovingTag } from "../lifecycle/immutability";
import { OciFailure, ociFailureOf } from "./errors";
import { checkStorageQuota, limitsOf } from "./quota";
import {
  type ManifestRef,
  ociManifestRef,
  ociRepositoryName,
  readableRepository,
  requestedImageName,
  writableNamespace,
} from "./repository";

export interface ManifestRequest {
  /** Repository name as in the URL. */
  repository: string;
  /** Tag or digest as in the URL. */
  reference: string;
}

export interface ManifestRead extends ManifestRequest {
  /** Media ranges the client accepts (`acceptedMediaRanges`); absent: any type. */
  accept?: readonly string[];
}

/**
 * A manifest of a type the client does not accept is, to that client, no manifest: 404
 * MANIFEST_UNKNOWN as distribution answers, saying what was found and what was asked.
 */
export function refuseUnaccepted(
  repository: string,
  reference: string,
  mediaType: string,
  accept: readonly string[] | undefined,
): void {
  if (mediaTypeAccepted(mediaType, accept)) return;
  throw new OciFailure(
    "MANIFEST_UNKNOWN",
    `manifest ${reference} in ${repository} is ${mediaType}, which the Accept header (${accept?.join(", ") || "nothing"}) does not include`,
  );
}

export interface PushManifestInput extends ManifestRequest {
  body: Uint8Array;
  /** Set when the body was longer than MAX_MANIFEST_BYTES and was cut off there. */
  tooLarge?: boolean;
  contentType?: string;
}

export interface ManifestInfo {
  digest: string;
  mediaType: string;
  size: number;
}

export interface PushedManifest extends ManifestInfo {
  /** The manifest's subject, for the OCI-Subject header. */
  subject?: string;
}

/**
 * container-registry.image.push, one per manifest PUT: the caller's namespace, the storage
 * quota, a valid manifest whose blobs and child manifests are all in the repository; then
 * manifest, references, blob links and tag, and the event, in one transaction.
 */
export function pushManifest(
  ctx: RegistryContext,
  input: PushManifestInput,
): Promise<PushedManifest> {
  const targetName = requestedImageName(input.repository, input.reference);
  return runAudited(ctx, {
    action: "container-registry.image.push",
    failure: () => [{ target: imageTarget(targetName), messageDetail: targetName }],
    execute: async (tx) => {
      try {
        const name = ociRepositoryName(input.repository);
        const ref = ociManifestRef(input.reference);
        // Asked together (pipelined): a refused namespace still answers first.
        const [row, limits] = await Promise.all([
          writableNamespace(tx, ctx, name),
          limitsOf(tx, ctx),
        ]);
        await checkStorageQuota(tx, ctx, limits);
        if (input.tooLarge || input.body.byteLength > MAX_MANIFEST_BYTES) {
          throw new OciFailure(
            "MANIFEST_INVALID",
            `manifest is larger than ${MAX_MANIFEST_BYTES} bytes`,
            413,
          );
        }
        const parsed = parseOciManifest(input.body, input.contentType);
        const repositoryId =
          row.repositoryId ?? (await ensureRepository(tx, row.namespaceId, name.name));
        if (ref.tag !== undefined) {
          await refusePushMovingTag(tx, {
            namespaceId: row.namespaceId,
            repository: name.name,
            repositoryId,
            tag: ref.tag,
            body: input.body,
          });
        }
        // writeManifestRows holds blobs against garbage collection when it links any.
        const stored = await writeManifestRows(tx, {
          repositoryId,
          content: input.body,
          ...(input.contentType ? { contentType: input.contentType } : {}),
          ...(ref.digest ? { digest: ref.digest } : { tag: ref.tag }),
          blobs: "linked",
          now: nowOf(ctx),
        });
        const result: PushedManifest = {
          digest: stored.digest,
          mediaType: stored.mediaType,
          size: stored.size,
          ...(parsed.subject ? { subject: parsed.subject.digest } : {}),
        };
        return {
          result,
          records: [
            {
              target: imageTarget(targetName, name.name, stored.digest),
              messageDetail: targetName,
              status: 201,
              requestData: { mediaType: stored.mediaType, size: stored.size },
              responseData: { digest: stored.digest, created: stored.created },
            },
          ],
        };
      } catch (error) {
        throw ociFailureOf(error);
      }
    },
  });
}

interface ManifestRow {
  id: string;
  digest: string;
  mediaType: string;
  size: number;
  content?: Buffer;
}

/** The manifest a tag or digest names in a repository, with its bytes when asked. */
export async function findManifest(
  tx: DbOrTx,
  repositoryId: string,
  ref: ManifestRef,
  withContent = false,
): Promise<ManifestRow | undefined> {
  const columns = {
    id: manifests.id,
    digest: manifests.digest,
    mediaType: manifests.mediaType,
    size: manifests.size,
    ...(withContent ? { content: manifests.content } : {}),
  };
  const rows = ref.digest
    ? await tx
        .select(columns)
        .from(manifests)
        .where(and(eq(manifests.repositoryId, repositoryId), eq(manifests.digest, ref.digest)))
        .limit(1)
    : await tx
        .select(columns)
        .from(tags)
        .innerJoin(manifests, eq(manifests.id, tags.manifestId))
        .where(and(eq(tags.repositoryId, repositoryId), eq(tags.name, ref.tag!)))
        .limit(1);
  return rows[0];
}

export function unknownManifest(repository: string, reference: string): OciFailure {
  return new OciFailure(
    "MANIFEST_UNKNOWN",
    `manifest ${reference} is not known in repository ${repository}`,
  );
}

/**
 * The reference of a read or delete: a string that is no valid tag names no manifest
 * (404 MANIFEST_UNKNOWN, as distribution answers), where a push of it is MANIFEST_INVALID.
 */
export function existingRef(repository: string, raw: string): ManifestRef {
  try {
    return ociManifestRef(raw);
  } catch (error) {
    if (error instanceof OciFailure && error.ociCode === "MANIFEST_INVALID") {
      throw unknownManifest(repository, raw);
    }
    throw error;
  }
}

/** A manifest's digest, type and size (HEAD): neither audited nor counted as traffic. */
export async function statManifest(
  ctx: RegistryContext,
  input: ManifestRead,
): Promise<ManifestInfo> {
  try {
    const name = ociRepositoryName(input.repository);
    const ref = existingRef(name.name, input.reference);
    const { repositoryId } = await readableRepository(ctx.db, ctx, name);
    const found = await findManifest(ctx.db, repositoryId, ref);
    if (!found) throw unknownManifest(name.name, input.reference);
    refuseUnaccepted(name.name, input.reference, found.mediaType, input.accept);
    return { digest: found.digest, mediaType: found.mediaType, size: found.size };
  } catch (error) {
    throw ociFailureOf(error);
  }
}
