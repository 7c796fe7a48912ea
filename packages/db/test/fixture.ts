import { afterAll } from "vitest";
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
