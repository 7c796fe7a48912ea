import { sql } from "drizzle-orm";
import {
  bigint,
  customType,
  index,
  jsonb,
  pgSchema,
  primaryKey,
  smallint,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

const bytea = customType<{ data: Buffer }>({ dataType: () => "bytea" });

/** The tracker keeps its own schema so it can run as a separate service on any Postgres. */
export const trackerSchema = pgSchema("tracker");

/**
 * Stored events, one row per event id whatever the number of deliveries (the id is the
 * idempotency key). Filed under the account domain and tracker region it was ingested for.
 */
export const events = trackerSchema.table(
  "events",
  {
    id: uuid("id").primaryKey(),
    /** Ingestion order; the tail follows it. */
    seq: bigint("seq", { mode: "number" }).generatedAlwaysAsIdentity(),
    accountId: text("account_id").notNull(),
    region: text("region").notNull(),
    eventTime: timestamp("event_time", { withTimezone: true, precision: 3 }).notNull(),
    receivedAt: timestamp("received_at", { withTimezone: true }).notNull().defaultNow(),
    host: text("host").notNull().default(""),
    action: text("action").notNull(),
    outcome: text("outcome").notNull(),
    severity: text("severity").notNull(),
    initiatorId: text("initiator_id").notNull(),
    initiatorName: text("initiator_name").notNull(),
    targetId: text("target_id").notNull(),
    targetName: text("target_name").notNull(),
    message: text("message").notNull(),
    payload: jsonb("payload").notNull(),
    /** Position in its account domain's Merkle log (docs/verifiable-log.md). */
    logIndex: bigint("log_index", { mode: "number" }),
  },
  (t) => [
    // Every query is one account domain in one region, newest first.
    index("events_domain_time_idx").on(
      t.accountId,
      t.region,
      sql`${t.eventTime} desc`,
      sql`${t.id} desc`,
    ),
    index("events_seq_idx").on(t.seq),
    // Never two events at one index of a log.
    uniqueIndex("events_log_index_idx").on(t.accountId, t.region, t.logIndex),
  ],
);

/**
 * One append-only Merkle log per account domain and tracker region. `frontier` is the right
 * edge of the tree (one 32-byte hash per set bit of `size`, largest subtree first), so an
 * append needs this row alone; ingestion locks it, which orders the log across processes.
 */
export const logs = trackerSchema.table(
  "logs",
  {
    accountId: text("account_id").notNull(),
    region: text("region").notNull(),
    size: bigint("size", { mode: "number" }).notNull().default(0),
    frontier: bytea("frontier").notNull(),
    checkpointSize: bigint("checkpoint_size", { mode: "number" }).notNull().default(0),
    checkpointAt: timestamp("checkpoint_at", { withTimezone: true }),
  },
  (t) => [
    primaryKey({ columns: [t.accountId, t.region] }),
    index("logs_grown_idx").on(t.checkpointAt).where(sql`${t.checkpointSize} < ${t.size}`),
  ],
);

/**
 * Complete subtrees of the logs at every 4th level, the leaves (level 0) included, in tiles of
 * 16 (`hashes`: the nodes [idx·16, idx·16 + 16) of `level`, concatenated; the last tile of a
 * level is partial and grows). A batch writes a few tiles per log, not a row per leaf. The
 * leaves are kept apart from the events on purpose: an event row changed, moved to another
 * index or replaced no longer matches the leaf the tree holds for its index, which names it.
 */
export const logTiles = trackerSchema.table(
  "log_tiles",
  {
    accountId: text("account_id").notNull(),
    region: text("region").notNull(),
    level: smallint("level").notNull(),
    idx: bigint("idx", { mode: "number" }).notNull(),
    hashes: bytea("hashes").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.region, t.level, t.idx] })],
);

/** Signed checkpoints (C2SP tlog-checkpoint notes), at most one a second per log. */
export const checkpoints = trackerSchema.table(
  "checkpoints",
  {
    accountId: text("account_id").notNull(),
    region: text("region").notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    note: text("note").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.region, t.size] })],
);
