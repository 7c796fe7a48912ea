import { type AtEvent, eventAccount, eventRegion } from "@berth/core";
import { type Db, enqueueEvents } from "@berth/db";

import { makeEvent } from "@berth/tracker-client/testing";

export { lineOf, makeEvent } from "@berth/tracker-client/testing";

/** `count` events of two accounts: every third one `b`'s, the others `a`'s. */
export const twoAccountEvents = (count: number, a: string, b: string): AtEvent[] =>
  Array.from({ length: count }, (_, i) => makeEvent({ account: i % 3 ? a : b }));

/** Enqueue events as the use cases do: account and region from the event's own CRN. */
export async function enqueue(db: Db, events: AtEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 1000) {
    await enqueueEvents(
      db,
      events.slice(i, i + 1000).map((event) => ({
        event,
        accountId: eventAccount(event),
        region: eventRegion(event),
      })),
    );
  }
}
