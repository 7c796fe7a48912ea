import { sql } from "drizzle-orm";
import {
  bigint,
  customType,
  index,
  integer,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";
import { namespaces } from "./namespaces";

const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => "bytea",
});

/** A repository is `<namespace>/<path>`; `name` holds the full name. */
export const repositories = pgTable(
  "repositories",
  {
    id: uuid("id").primaryKey(),
    namespaceId: uuid("namespace_id")
      .notNull()
      .references(() => namespaces.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [unique("repositories_namespace_name_uq").on(t.namespaceId, t.name)],
);

/** Content-addressed blobs, stored once whatever the number of repositories using them. */
export const blobs = pgTable("blobs", {
  digest: text("digest").primaryKey(),
  size: bigint("size", { mode: "number" }).notNull(),
  mediaType: text("media_type"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

/**
 * A blob linked into a repository (uploaded, mounted or referenced by a manifest there).
 * Storage usage is the sum of distinct digests over an account's repositories in a region,
 * so a layer shared by several images counts once.
 */
export const repositoryBlobs = pgTable(
  "repository_blobs",
  {
    repositoryId: uuid("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    digest: text("digest")
      .notNull()
      .references(() => blobs.digest),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
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
    repositoryId: uuid("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    digest: text("digest").notNull(),
    mediaType: text("media_type").notNull(),
    size: integer("size").notNull(),
    content: bytea("content").notNull(),
    configDigest: text("config_digest"),
    artifactType: text("artifact_type"),
    /** For the referrers API: the manifest this one refers to. */
    subjectDigest: text("subject_digest"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
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
    manifestId: uuid("manifest_id")
      .notNull()
      .references(() => manifests.id, { onDelete: "cascade" }),
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
    repositoryId: uuid("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    manifestId: uuid("manifest_id")
      .notNull()
      .references(() => manifests.id, { onDelete: "cascade" }),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.repositoryId, t.name] }),
    index("tags_manifest_idx").on(t.manifestId),
  ],
);

/** Blob upload sessions; the bytes live in the blob store's upload area. */
export const uploadSessions = pgTable(
  "upload_sessions",
  {
    id: uuid("id").primaryKey(),
    repositoryId: uuid("repository_id")
      .notNull()
      .references(() => repositories.id, { onDelete: "cascade" }),
    accountId: text("account_id").notNull(),
    offset: bigint("offset", { mode: "number" }).notNull().default(0),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("upload_sessions_account_idx").on(t.accountId)],
);
