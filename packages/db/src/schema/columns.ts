import { type AnyPgColumn, customType, text, timestamp, uuid } from "drizzle-orm/pg-core";

// Column builders that many tables share, so each convention is written once. Not exported
// from the package: they are how the schema is written, not part of what it holds.

export const bytea = customType<{ data: Buffer; driverData: Buffer }>({
  dataType: () => "bytea",
});

/** Every time is a `timestamp with time zone`. */
export const timestamptz = (name: string) => timestamp(name, { withTimezone: true });

/** `created_at`, set by the database as the row is inserted. */
export const createdAt = () => timestamptz("created_at").notNull().defaultNow();

/** `updated_at`, starting as the insert time; writers set it on every change. */
export const updatedAt = () => timestamptz("updated_at").notNull().defaultNow();

/** A reference to the row this one belongs to: deleting that row deletes this one. */
export const ownerText = (name: string, owner: () => AnyPgColumn) =>
  text(name).notNull().references(owner, { onDelete: "cascade" });

/** As `ownerText`, for an owner whose key is a uuid. */
export const ownerUuid = (name: string, owner: () => AnyPgColumn) =>
  uuid(name).notNull().references(owner, { onDelete: "cascade" });
