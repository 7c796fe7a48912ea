import {
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  unique,
  uuid,
} from "drizzle-orm/pg-core";
import { bytea, ownerUuid, timestamptz } from "./columns";
import { blobs, repositories } from "./images";
import { namespaces } from "./namespaces";
import { accountResource } from "./owned";

/** A manifest as it was when it went to the trash: enough to put it back byte for byte. */
export interface TrashedManifest {
  digest: string;
  mediaType: string;
  size: number;
  /** The manifest's bytes, base64. */
  content: string;
  configDigest: string | null;
  artifactType: string | null;
  subjectDigest: string | null;
  references: { digest: string; kind: "config" | "layer" | "manifest"; size: number }[];
  tags: string[];
}

/**
 * A deleted image kept for a while (image.rm, the OCI DELETE, namespace.delete, retention,
 * bulk deletes and prunes put it here). Names, not foreign keys: the namespace may be gone.
 * The entry's blobs stay referenced (`trash_blobs`) until it is restored, emptied or
 * expires, so GC keeps them and storage usage counts them.
 */
export const trashEntries = pgTable(
  "trash_entries",
  {
    ...accountResource(),
    namespace: text("namespace").notNull(),
    repository: text("repository").notNull(),
    digest: text("digest").notNull(),
    mediaType: text("media_type").notNull(),
    size: integer("size").notNull(),
    content: bytea("content").notNull(),
    /** Tags the image had, references, and the child manifests of an index (`children`). */
    snapshot: jsonb("snapshot")
      .$type<{ manifest: Omit<TrashedManifest, "content">; children: TrashedManifest[] }>()
      .notNull(),
    tags: jsonb("tags").$type<string[]>().notNull(),
    /** The action that put it here. */
    reason: text("reason").notNull(),
    deletedAt: timestamptz("deleted_at").notNull(),
    expiresAt: timestamptz("expires_at").notNull(),
  },
  (t) => [
    index("trash_entries_account_idx").on(t.accountId, t.region, t.repository, t.digest),
    index("trash_entries_expires_idx").on(t.expiresAt),
  ],
);

/** Blobs a trash entry keeps alive. */
export const trashBlobs = pgTable(
  "trash_blobs",
  {
    entryId: ownerUuid("entry_id", () => trashEntries.id),
    digest: text("digest")
      .notNull()
      .references(() => blobs.digest),
  },
  (t) => [
    primaryKey({ columns: [t.entryId, t.digest] }),
    index("trash_blobs_digest_idx").on(t.digest),
  ],
);

/** What a retention run of a namespace keeps. */
export const retentionPolicies = pgTable("retention_policies", {
  namespaceId: uuid("namespace_id")
    .primaryKey()
    .references(() => namespaces.id, { onDelete: "cascade" }),
  /** Images kept per repository, newest first. */
  imagesPerRepository: integer("images_per_repository").notNull(),
  /** Whether untagged images are kept regardless of the count. */
  keepUntagged: boolean("keep_untagged").notNull(),
  /** Images pulled within this many days are never removed. */
  keepPulledWithinDays: integer("keep_pulled_within_days").notNull(),
  updatedAt: timestamptz("updated_at").notNull(),
  lastRunAt: timestamptz("last_run_at"),
});

/** When a manifest of a repository was last pulled (retention never removes recent pulls). */
export const manifestPulls = pgTable(
  "manifest_pulls",
  {
    repositoryId: ownerUuid("repository_id", () => repositories.id),
    digest: text("digest").notNull(),
    lastPulledAt: timestamptz("last_pulled_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.repositoryId, t.digest] })],
);

/**
 * Tag immutability: an existing tag of the namespace (repository '' ) or of one repository
 * may not be moved or removed.
 */
export const tagImmutability = pgTable(
  "tag_immutability",
  {
    namespaceId: ownerUuid("namespace_id", () => namespaces.id),
    /** Full repository name, or '' for the whole namespace. */
    repository: text("repository").notNull(),
    createdAt: timestamptz("created_at").notNull(),
  },
  (t) => [unique("tag_immutability_uq").on(t.namespaceId, t.repository)],
);
