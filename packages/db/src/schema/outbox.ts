import { sql } from "drizzle-orm";
import {
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uuid,
} from "drizzle-orm/pg-core";
import { createdAt, timestamptz, updatedAt } from "./columns";

/**
 * An event waiting for delivery, and its delivery state: the columns the outbox (the
 * tracker's queue) and `deliveries` (every other destination's) both have.
 */
const queued = () => ({
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
  availableAt: timestamptz("available_at").notNull().defaultNow(),
  leasedUntil: timestamptz("leased_until"),
  leasedBy: text("leased_by"),
  lastError: text("last_error"),
  createdAt: createdAt(),
  deadAt: timestamptz("dead_at"),
});

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
    ...queued(),
  },
  (t) => [
    index("outbox_pending_idx").on(t.availableAt, t.seq).where(sql`${t.status} = 'pending'`),
    index("outbox_dead_idx").on(t.deadAt).where(sql`${t.status} = 'dead'`),
  ],
);

/**
 * The destinations beside the tracker (syslog, webhooks, CloudEvents, JetStream) and their
 * filters, as the worker read them from BERTH_DESTINATIONS at its start. The enqueue statement
 * reads this table to fan each event out to the destinations it matches, in the transaction of
 * the change, so a destination's ledger holds every matching event from the moment the worker
 * first registered it. `filter` holds optional lists: actions, outcomes, severities, accounts,
 * regions (a missing list matches everything).
 */
export const deliveryDestinations = pgTable("delivery_destinations", {
  name: text("name").primaryKey(),
  filter: jsonb("filter").notNull().default({}),
  /** Ordered destinations are delivered strictly in enqueue order (one batch at a time). */
  ordered: boolean("ordered").notNull().default(false),
  updatedAt: updatedAt(),
});

/**
 * One row per event and destination (the tracker's ledger is `outbox` itself): each
 * destination has its own backlog, attempts, backoff and dead letters, so one slow or dead
 * destination delays only itself. Delivered rows are deleted, as in the outbox.
 */
export const deliveries = pgTable(
  "deliveries",
  {
    destination: text("destination").notNull(),
    eventId: uuid("event_id").notNull(),
    ...queued(),
  },
  (t) => [
    primaryKey({ columns: [t.destination, t.eventId] }),
    index("deliveries_pending_idx")
      .on(t.destination, t.availableAt, t.seq)
      .where(sql`${t.status} = 'pending'`),
    index("deliveries_pending_seq_idx")
      .on(t.destination, t.seq)
      .where(sql`${t.status} = 'pending'`),
    index("deliveries_dead_idx").on(t.destination, t.deadAt).where(sql`${t.status} = 'dead'`),
  ],
);
