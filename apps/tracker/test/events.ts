import type { AtEvent } from "@berth/core";
import type { TestDatabase } from "@berth/db/testing";
import { lineOf } from "@berth/tracker-client/testing";
import pino from "pino";
import { expect } from "vitest";

export { lineOf, makeEvent } from "@berth/tracker-client/testing";

/** Posts events to a tracker's ingest endpoint as one batch, which must be taken (200). */
export async function ingestEvents(
  trackerUrl: string,
  region: string,
  events: AtEvent[],
  credential: Record<string, string>,
): Promise<void> {
  const res = await fetch(`${trackerUrl}/regions/${region}/logs/ingest`, {
    method: "POST",
    headers: { "content-type": "application/json", ...credential },
    body: JSON.stringify({ lines: events.map(lineOf) }),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

/** A quiet tracker's settings on the test database `t`, with one ingestion key set and a query key. */
export const trackerSettings = (t: TestDatabase, ingestionKeys: string, queryKey: string) => ({
  databaseUrl: t.url,
  ingestionKeys,
  queryKey,
  logger: pino({ level: "silent" }),
});
