import { sql } from "drizzle-orm";
import { bigint, index, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * Transactional outbox of audit events. Rows are inserted in the same transaction as the
 * state change and deleted once delivered, so the table only holds the backlog.
 * A claim is a lease (`leased_until`): a worker killed mid-batch loses nothing, the lease
 * expires and another worker takes the rows again.
 */
export const outbox = pgTable(
  "outbox",
  {
    id: uuid("id").primaryKey(),
    seq: bigint("seq", { mode: "number" }).generatedAlwaysAsIdentity(),
    accountId: text("account_id").notNull(),
    /** Region of the resource (the event's region), routed to a tracker region at delivery. */
    region: text("region").notNull(),
    action: text("action").notNull(),
    payload: jsonb("payload").notNull(),
    status: text("status", { enum: ["pending", "dead"] })
      .notNull()
      .default("pending"),
    attempts: integer("attempts").notNull().default(0),
    availableAt: timestamp("available_at", { withTimezone: true }).notNull().defaultNow(),
    leasedUntil: timestamp("leased_until", { withTimezone: true }),
    leasedBy: text("leased_by"),
    lastError: text("last_error"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
    deadAt: timestamp("dead_at", { withTimezone: true }),
  },
  (t) => [
    index("outbox_pending_idx").on(t.availableAt, t.seq).where(sql`${t.status} = 'pending'`),
    index("outbox_dead_idx").on(t.deadAt).where(sql`${t.status} = 'dead'`),
  ],
);
