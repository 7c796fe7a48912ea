import { sql } from "drizzle-orm";
import { bigint, index, jsonb, pgSchema, text, timestamp, uuid } from "drizzle-orm/pg-core";

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
  ],
);
