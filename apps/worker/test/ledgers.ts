import type { TestDatabase } from "@berth/db/testing";
import { expect } from "vitest";
import { waitFor } from "./harness";

export interface Ledger {
  pending: number;
  dead: number;
}

/** Undelivered rows per destination, the tracker's (the outbox) included: `{ siem: { pending, dead } }`. */
export async function destinationLedgers(t: TestDatabase): Promise<Record<string, Ledger>> {
  const rows = await t.sql<{ destination: string; pending: number; dead: number }[]>`
    select d.name as destination,
           count(dl.event_id) filter (where dl.status = 'pending')::int as pending,
           count(dl.event_id) filter (where dl.status = 'dead')::int as dead
      from delivery_destinations d left join deliveries dl on dl.destination = d.name
     group by d.name`;
  const [o] = await t.sql<Ledger[]>`
    select count(*) filter (where status = 'pending')::int as pending,
           count(*) filter (where status = 'dead')::int as dead from outbox`;
  return {
    tracker: o!,
    ...Object.fromEntries(rows.map((r) => [r.destination, { pending: r.pending, dead: r.dead }])),
  };
}

export const allDelivered = (l: Record<string, Ledger>) =>
  Object.values(l).every((x) => x.pending === 0);

/** One destination's rows still pending, with what their attempts said. */
export function pendingOf(t: TestDatabase, destination: string) {
  return t.sql<{ id: string; attempts: number; last_error: string | null; leased: boolean }[]>`
    select event_id as id, attempts, last_error, coalesce(leased_until > now(), false) as leased
      from deliveries where destination = ${destination} and status = 'pending' order by seq`;
}

/** Wait until no ledger has anything pending, then require exactly `names`, nothing dead. */
export async function expectAllDelivered(t: TestDatabase, names: string[], ms = 90_000) {
  const final = await waitFor("every ledger empty", () => destinationLedgers(t), allDelivered, ms);
  expect(final).toEqual(Object.fromEntries(names.map((n) => [n, { pending: 0, dead: 0 }])));
}
