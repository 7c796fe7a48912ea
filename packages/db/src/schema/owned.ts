import { text, uuid } from "drizzle-orm/pg-core";
import { accounts } from "./accounts";
import { ownerText } from "./columns";

// The columns of rows an account owns in one region (separate from columns.ts, which
// accounts.ts itself uses).

/** The owning account (its rows go with it) and the region the row lives in. */
export const accountRegion = () => ({
  accountId: ownerText("account_id", () => accounts.id),
  region: text("region").notNull(),
});

/** A resource of an account in a region, known by its uuid. */
export const accountResource = () => ({
  id: uuid("id").primaryKey(),
  ...accountRegion(),
});
