import { sql } from "drizzle-orm";
import {
  bigint,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  unique,
  uuid,
} from "drizzle-orm/pg-core";
import { bytea, createdAt, ownerUuid, timestamptz, updatedAt } from "./columns";
import { namespaces } from "./namespaces";

/** A repository is `<namespace>/<path>`; `name` holds the full name. */
export const repositories = pgTable(
  "repositories",
  {
    id: uuid("id").primaryKey(),
    namespaceId: ownerUuid("namespace_id", () => namespaces.id),
    name: text("name").notNull(),
    createdAt: createdAt(),
  },
  (t) => [unique("repositories_namespace_name_uq").on(t.namespaceId, t.name)],
);

/** Content-addressed blobs, stored once whatever the number of repositories using them. */
export const blobs = pgTable("blobs", {
  digest: text("digest").primaryKey(),
  size: bigint("size", { mode: "number" }).notNull(),
  mediaType: text("media_type"),
  createdAt: createdAt(),
});

/**
 * A blob linked into a repository (uploaded, mounted or referenced by a manifest there).
 * Storage usage is the sum of distinct digests over an account's repositories in a region,
 * so a layer shared by several images counts once.
 */
export const repositoryBlobs = pgTable(
  "repository_blobs",
  {
    repositoryId: ownerUuid("repository_id", () => repositories.id),
    digest: text("digest")
      .notNull()
      .references(() => blobs.digest),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.repositoryId, t.digest] }),
    index("repository_blobs_digest_idx").on(t.digest),
  ],
);

export const manifests = pgTable(
  "manifests",
  {
    id: uuid("id").primaryKey(),
    repositoryId: ownerUuid("repository_id", () => repositories.id),
    digest: text("digest").notNull(),
    mediaType: text("media_type").notNull(),
    size: integer("size").notNull(),
    content: bytea("content").notNull(),
    configDigest: text("config_digest"),
    artifactType: text("artifact_type"),
    /** For the referrers API: the manifest this one refers to. */
    subjectDigest: text("subject_digest"),
    createdAt: createdAt(),
  },
  (t) => [
    unique("manifests_repository_digest_uq").on(t.repositoryId, t.digest),
    index("manifests_subject_idx")
      .on(t.repositoryId, t.subjectDigest)
      .where(sql`${t.subjectDigest} is not null`),
  ],
);

/** What a manifest references: layers and config (blobs) or child manifests (indexes). */
export const manifestReferences = pgTable(
  "manifest_references",
  {
    manifestId: ownerUuid("manifest_id", () => manifests.id),
    digest: text("digest").notNull(),
    kind: text("kind", { enum: ["config", "layer", "manifest"] }).notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.manifestId, t.digest, t.kind] }),
    index("manifest_references_digest_idx").on(t.digest),
  ],
);

export const tags = pgTable(
  "tags",
  {
    repositoryId: ownerUuid("repository_id", () => repositories.id),
    name: text("name").notNull(),
    manifestId: ownerUuid("manifest_id", () => manifests.id),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ columns: [t.repositoryId, t.name] }),
    index("tags_manifest_idx").on(t.manifestId),
  ],
);

/**
 * Blob upload sessions; the bytes live in the blob store's upload area. What the store needs
 * to continue the upload (S3: its multipart upload and parts) is `state`, here rather than
 * in any process, so that the next chunk may go to any server process; `writer` and
 * `writer_until` are the lease of the one request allowed to write at a time (a crashed
 * process's lease runs out).
 */
export const uploadSessions = pgTable(
  "upload_sessions",
  {
    id: uuid("id").primaryKey(),
    repositoryId: ownerUuid("repository_id", () => repositories.id),
    accountId: text("account_id").notNull(),
    /** Bytes received by the last chunk that completed. */
    offset: bigint("offset", { mode: "number" }).notNull().default(0),
    state: jsonb("state").$type<Record<string, unknown>>().notNull().default({}),
    writer: uuid("writer"),
    writerUntil: timestamptz("writer_until"),
    startedAt: timestamptz("started_at").notNull().defaultNow(),
    updatedAt: updatedAt(),
  },
  (t) => [index("upload_sessions_account_idx").on(t.accountId)],
);
