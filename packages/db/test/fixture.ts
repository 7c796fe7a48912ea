import { v7 as uuidv7 } from "uuid";
import { afterAll, beforeEach } from "vitest";
import { createTestDatabase, type TestDatabase } from "../src/testing";

/**
 * A fresh migrated database for the whole test file: created as the file loads (top-level
 * await), dropped after its last test, so each file does not repeat the beforeAll/afterAll
 * pair.
 */
export async function fileDatabase(): Promise<TestDatabase> {
  const t = await createTestDatabase();
  afterAll(() => t.drop());
  return t;
}

/** fileDatabase, its outbox, destinations and their ledgers emptied before each test. */
export async function outboxDatabase(): Promise<TestDatabase> {
  const t = await fileDatabase();
  beforeEach(async () => {
    await t.sql`delete from deliveries`;
    await t.sql`delete from outbox`;
    await t.sql`delete from delivery_destinations`;
  });
  return t;
}

/** What enqueueEvents takes: `event` given a fresh id, for `accountId` in `region`. */
export const outboxRow = (
  event: { action: string; [field: string]: unknown },
  accountId = "acct1",
  region = "us-south",
) => ({ event: { id: uuidv7(), ...event }, accountId, region });
