import { afterAll } from "vitest";

/**
 * One fixture for the whole test file: awaited as the file loads (top-level await), dropped
 * after its last test, so each file does not repeat the beforeAll/afterAll pair.
 */
export async function forFile<T extends { drop(): Promise<void> }>(made: Promise<T>): Promise<T> {
  const fixture = await made;
  afterAll(() => fixture.drop());
  return fixture;
}
