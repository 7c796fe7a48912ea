import { createHash } from "node:crypto";
import { parseDigest } from "@berth/core";
import type { Db, DbOrTx } from "@berth/db";
import {
  blobs,
  manifestReferences,
  manifests,
  namespaces,
  repositories,
  repositoryBlobs,
  tags,
} from "@berth/db";
import { and, eq, inArray, ne, sql } from "drizzle-orm";
import { v7 as uuidv7 } from "uuid";
import { notFound, RegistryError } from "../errors";
import type { BlobStore } from "../storage/blob-store";
import { type Descriptor, parseManifest } from "./manifest";

/*
 * The database side of image storage, shared by the management use cases, the OCI API and
 * tests. None of these functions writes an event: the caller's use case does.
 */

/** Register a blob that is in the blob store (idempotent). */
export async function recordBlob(
  tx: DbOrTx,
  blob: { digest: string; size: number; mediaType?: string | null },
): Promise<void> {
  await tx
    .insert(blobs)
    .values({ digest: blob.digest, size: blob.size, mediaType: blob.mediaType ?? null })
    .onConflictDoNothing();
}

/** Make a blob visible in a repository (idempotent); the blob must be recorded. */
export async function linkBlobs(
  tx: DbOrTx,
  repositoryId: string,
  digests: string[],
): Promise<void> {
  const unique = [...new Set(digests)];
  if (unique.length === 0) return;
  await tx
    .insert(repositoryBlobs)
    .values(unique.map((digest) => ({ repositoryId, digest })))
    .onConflictDoNothing();
}

/** The id of repository `name` ("ns/path") in a namespace, created when missing. */
export async function ensureRepository(
  tx: DbOrTx,
  namespaceId: string,
  name: string,
): Promise<string> {
  const inserted = await tx
    .insert(repositories)
    .values({ id: uuidv7(), namespaceId, name })
    .onConflictDoNothing()
    .returning({ id: repositories.id });
  if (inserted[0]) return inserted[0].id;
  const [row] = await tx
    .select({ id: repositories.id })
    .from(repositories)
    .where(and(eq(repositories.namespaceId, namespaceId), eq(repositories.name, name)));
  if (!row) throw new Error(`repository ${name} vanished while being created`);
  return row.id;
}

export interface ManifestRowsInput {
  repositoryId: string;
  content: Uint8Array;
  /** The Content-Type it was sent with, if any. */
  contentType?: string;
  /** When the client named the manifest by digest: the bytes must hash to it. */
  digest?: string;
  /** Point this tag at the manifest (moving it if it pointed elsewhere). */
  tag?: string;
  /**
   * `linked`: referenced blobs must already be linked to the repository (an OCI push,
   * where the client uploaded or mounted them there). `known`: they must be known blobs
   * and get linked (internal writes that already checked ownership).
   */
  blobs?: "linked" | "known";
  now?: Date;
}

export interface PutManifestResult {
  manifestId: string;
  digest: string;
  mediaType: string;
  size: number;
  /** False when the repository already held this manifest. */
  created: boolean;
}

/**
 * Write a manifest's rows in a repository: its row, what it references, the blob links that
 * make storage accounting see its blobs, and optionally a tag. Referenced blobs and child
 * manifests must exist, so a stored manifest is always complete.
 */
export async function writeManifestRows(
  tx: DbOrTx,
  input: ManifestRowsInput,
): Promise<PutManifestResult> {
  const content = Buffer.from(input.content);
  const parsed = parseManifest(content, input.contentType);
  const algorithm = input.digest ? parseDigest(input.digest).algorithm : "sha256";
  const digest = `${algorithm}:${createHash(algorithm).update(content).digest("hex")}`;
  if (input.digest && input.digest !== digest) {
    throw new RegistryError(
      "BAD_REQUEST",
      `manifest digest ${digest} does not match the reference ${input.digest}`,
      "DIGEST_INVALID",
    );
  }
  const blobRefs: { d: Descriptor; kind: "config" | "layer" }[] = [
    ...(parsed.config ? [{ d: parsed.config, kind: "config" as const }] : []),
    ...parsed.layers.map((d) => ({ d, kind: "layer" as const })),
  ];
  const blobDigests = [...new Set(blobRefs.map((r) => r.d.digest))];
  if (blobDigests.length > 0) {
    await holdBlobsAgainstGc(tx);
    const known =
      input.blobs === "linked"
        ? await tx
            .select({ digest: repositoryBlobs.digest })
            .from(repositoryBlobs)
            .where(
              and(
                eq(repositoryBlobs.repositoryId, input.repositoryId),
                inArray(repositoryBlobs.digest, blobDigests),
              ),
            )
        : await tx
            .select({ digest: blobs.digest })
            .from(blobs)
            .where(inArray(blobs.digest, blobDigests));
    const have = new Set(known.map((k) => k.digest));
    const missing = blobDigests.find((d) => !have.has(d));
    if (missing) {
      throw new RegistryError(
        "BAD_REQUEST",
        `manifest references blob ${missing}, which is not in the repository`,
        "MANIFEST_BLOB_UNKNOWN",
      );
    }
  }
  const childDigests = [...new Set(parsed.manifests.map((m) => m.digest))];
  if (childDigests.length > 0) {
    const present = await tx
      .select({ digest: manifests.digest })
      .from(manifests)
      .where(
        and(
          eq(manifests.repositoryId, input.repositoryId),
          inArray(manifests.digest, childDigests),
        ),
      );
    const have = new Set(present.map((p) => p.digest));
    const missing = childDigests.find((d) => !have.has(d));
    if (missing) {
      throw new RegistryError(
        "BAD_REQUEST",
        `index references manifest ${missing}, which is not in the repository`,
        "MANIFEST_BLOB_UNKNOWN",
      );
    }
  }

  const now = input.now ?? new Date();
  const inserted = await tx
    .insert(manifests)
    .values({
      id: uuidv7(),
      repositoryId: input.repositoryId,
      digest,
      mediaType: parsed.mediaType,
      size: content.length,
      content,
      configDigest: parsed.config?.digest ?? null,
      artifactType: parsed.artifactType ?? parsed.config?.mediaType ?? null,
      subjectDigest: parsed.subject?.digest ?? null,
      createdAt: now,
    })
    .onConflictDoNothing()
    .returning({ id: manifests.id });
  let manifestId = inserted[0]?.id;
  const created = manifestId !== undefined;
  if (!manifestId) {
    const [row] = await tx
      .select({ id: manifests.id })
      .from(manifests)
      .where(and(eq(manifests.repositoryId, input.repositoryId), eq(manifests.digest, digest)));
    manifestId = row!.id;
  } else {
    const refs = new Map<
      string,
      { digest: string; kind: "config" | "layer" | "manifest"; size: number }
    >();
    for (const r of blobRefs)
      refs.set(`${r.kind}:${r.d.digest}`, { digest: r.d.digest, kind: r.kind, size: r.d.size });
    for (const m of parsed.manifests)
      refs.set(`manifest:${m.digest}`, { digest: m.digest, kind: "manifest", size: m.size });
    if (refs.size > 0) {
      await tx
        .insert(manifestReferences)
        .values([...refs.values()].map((r) => ({ ...r, manifestId: manifestId! })));
    }
    await linkBlobs(tx, input.repositoryId, blobDigests);
  }
  if (input.tag !== undefined) await setTag(tx, input.repositoryId, input.tag, manifestId, now);
  return { manifestId, digest, mediaType: parsed.mediaType, size: content.length, created };
}

/** Point a tag at a manifest of the same repository, creating or moving it. */
export async function setTag(
  tx: DbOrTx,
  repositoryId: string,
  tag: string,
  manifestId: string,
  now = new Date(),
): Promise<void> {
  await tx
    .insert(tags)
    .values({ repositoryId, name: tag, manifestId, updatedAt: now })
    .onConflictDoUpdate({
      target: [tags.repositoryId, tags.name],
      set: { manifestId, updatedAt: now },
    });
}

/**
 * Make the manifest `sourceId` (and, for an index, its children) exist in another
 * repository, sharing the blobs: a layer counts once in storage however many repositories
 * link it. Returns the manifest's id in the target repository.
 */
export async function copyManifest(
  tx: DbOrTx,
  sourceId: string,
  targetRepositoryId: string,
  now = new Date(),
): Promise<string> {
  const [source] = await tx.select().from(manifests).where(eq(manifests.id, sourceId));
  if (!source) throw new Error(`manifest ${sourceId} vanished while being copied`);
  const [existing] = await tx
    .select({ id: manifests.id })
    .from(manifests)
    .where(
      and(eq(manifests.repositoryId, targetRepositoryId), eq(manifests.digest, source.digest)),
    );
  if (existing) return existing.id;
  const refs = await tx
    .select()
    .from(manifestReferences)
    .where(eq(manifestReferences.manifestId, source.id));
  for (const child of refs.filter((r) => r.kind === "manifest")) {
    const [childRow] = await tx
      .select({ id: manifests.id })
      .from(manifests)
      .where(
        and(eq(manifests.repositoryId, source.repositoryId), eq(manifests.digest, child.digest)),
      );
    if (childRow) await copyManifest(tx, childRow.id, targetRepositoryId, now);
  }
  const id = uuidv7();
  await tx
    .insert(manifests)
    .values({ ...source, id, repositoryId: targetRepositoryId, createdAt: now });
  if (refs.length > 0) {
    await tx.insert(manifestReferences).values(refs.map((r) => ({ ...r, manifestId: id })));
  }
  await linkBlobs(
    tx,
    targetRepositoryId,
    refs.filter((r) => r.kind !== "manifest").map((r) => r.digest),
  );
  return id;
}

export interface StoreImageInput {
  accountId: string;
  region: string;
  /** Full repository name, "ns/path". */
  repository: string;
  tag?: string;
  manifest: Uint8Array;
  mediaType?: string;
  /** The blobs the manifest references; they must already be in the blob store. */
  blobs: { digest: string; size: number; mediaType?: string }[];
  now?: Date;
}

/**
 * Store an image whose blobs are in the store: blob rows, repository, manifest, references,
 * blob links and tag, in one transaction and without an event. For seeding and tests; an
 * audited push goes through the OCI API.
 */
export async function storeImage(
  db: Db,
  store: BlobStore,
  input: StoreImageInput,
): Promise<PutManifestResult> {
  for (const blob of input.blobs) {
    const stat = await store.stat(blob.digest);
    if (!stat || stat.size !== blob.size) {
      throw new Error(`blob ${blob.digest} (${blob.size} bytes) is not in the blob store`);
    }
  }
  const slash = input.repository.indexOf("/");
  const nsName = input.repository.slice(0, slash);
  return db.transaction(async (tx) => {
    const [ns] = await tx
      .select({ id: namespaces.id })
      .from(namespaces)
      .where(
        and(
          eq(namespaces.accountId, input.accountId),
          eq(namespaces.region, input.region),
          eq(namespaces.name, nsName),
        ),
      );
    if (!ns)
      throw notFound(
        `namespace "${nsName}" was not found in region ${input.region}`,
        "NAME_UNKNOWN",
      );
    for (const blob of input.blobs) await recordBlob(tx, blob);
    const repositoryId = await ensureRepository(tx, ns.id, input.repository);
    await linkBlobs(
      tx,
      repositoryId,
      input.blobs.map((b) => b.digest),
    );
    return writeManifestRows(tx, {
      repositoryId,
      content: input.manifest,
      ...(input.mediaType ? { contentType: input.mediaType } : {}),
      ...(input.tag !== undefined ? { tag: input.tag } : {}),
      blobs: "linked",
      ...(input.now ? { now: input.now } : {}),
    });
  });
}

export interface ManifestReference {
  /** The referencing manifest's digest. */
  manifest: string;
  /** The digest it references. */
  referenced: string;
}

/**
 * The manifests of a repository that reference any of `digests` (as config, layer or
 * child manifest; with `kind: "manifest"` only as a child), leaving out the manifest
 * `except`. At most `limit` rows when given.
 */
export async function manifestsReferencing(
  tx: DbOrTx,
  repositoryId: string,
  digests: readonly string[],
  opts: { kind?: "manifest"; except?: string; limit?: number } = {},
): Promise<ManifestReference[]> {
  if (digests.length === 0) return [];
  const query = tx
    .select({ manifest: manifests.digest, referenced: manifestReferences.digest })
    .from(manifestReferences)
    .innerJoin(manifests, eq(manifests.id, manifestReferences.manifestId))
    .where(
      and(
        eq(manifests.repositoryId, repositoryId),
        inArray(manifestReferences.digest, [...digests]),
        opts.kind ? eq(manifestReferences.kind, opts.kind) : undefined,
        opts.except ? ne(manifests.id, opts.except) : undefined,
      ),
    )
    .$dynamic();
  return opts.limit === undefined ? query : query.limit(opts.limit);
}

/** Lock shared by blob garbage collection (exclusive) and writers that link blobs (shared). */
export const BLOB_GC_LOCK = 0x62676331;

/** Take the GC lock in shared mode for the rest of the transaction (writers that link existing blobs). */
export async function holdBlobsAgainstGc(tx: DbOrTx): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock_shared(${BLOB_GC_LOCK})`);
}
