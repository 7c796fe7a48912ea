import type { BerthClient } from "@berth/client";
import { afterEach, describe, expect, it } from "vitest";
import type { RequestEvents } from "./expect-events";
import { errorInfo, forFile, on, rejects, rid, startTestServer } from "./helpers";

// Audited reads (quota.get, the lists) commit their events in batches with the reads running
// beside them (packages/registry/src/audit-batch.ts). What must hold whatever the batching:
// no answer without its event committed, one event per request with the request's own
// correlation id and initiator, and never an event of one tenant under another's account.

const env = await forFile(startTestServer());
const { t, alice, bob } = env;

afterEach(async () => {
  await t.sql`drop trigger if exists refuse_reads on outbox`;
});

/** Make the outbox refuse the success events of `action` (a failure's event still goes in). */
async function refuseSuccessEventsOf(action: string) {
  await t.sql.unsafe(`
    create or replace function refuse_read_events() returns trigger language plpgsql as $$
    begin
      if new.action = '${action}' and new.payload->>'outcome' = 'success' then
        raise exception 'outbox refuses %', new.action;
      end if;
      return new;
    end $$`);
  await t.sql`create trigger refuse_reads before insert on outbox
              for each row execute function refuse_read_events()`;
}

describe("an audited read", () => {
  it("whose event cannot be committed is not answered: it fails, with its failure event", async () => {
    await refuseSuccessEventsOf("container-registry.quota.get");
    const requestId = rid("refused-read");
    const error = await rejects(env.client(alice).quota.get.query(undefined, on(requestId)));
    expect(errorInfo(error).httpStatus).toBe(500);
    const events = await env.events(requestId);
    expect(events.map((e) => [e.event.action, e.event.outcome])).toEqual([
      ["container-registry.quota.get", "failure"],
    ]);
    // Another read, whose events the outbox takes, is answered meanwhile.
    const listed = rid("list");
    await env.client(alice).namespace.list.query(undefined, on(listed));
    expect((await env.events(listed)).map((e) => e.event.outcome)).toEqual(["success"]);
  });

  it("fails every read of a batch whose transaction fails, none answered", async () => {
    await refuseSuccessEventsOf("container-registry.quota.get");
    const ids = Array.from({ length: 12 }, (_, i) => rid(`batch-${i}`));
    const answers = await Promise.allSettled(
      ids.map((id) => env.client(alice).quota.get.query(undefined, on(id))),
    );
    expect(answers.map((a) => a.status)).toEqual(ids.map(() => "rejected"));
    for (const id of ids) {
      expect((await env.events(id)).map((e) => e.event.outcome)).toEqual(["failure"]);
    }
  });

  it("run concurrently by two tenants gives each request exactly its own one event", async () => {
    const callers: [string, typeof alice, BerthClient][] = [];
    for (let i = 0; i < 24; i++) {
      const who = i % 2 === 0 ? alice : bob;
      callers.push([rid(`conc-${i}`), who, env.client(who)]);
    }
    const results = await Promise.all(
      callers.map(([id, , client], i) =>
        i % 3 === 0
          ? client.namespace.list.query(undefined, on(id))
          : client.quota.get.query(undefined, on(id)),
      ),
    );
    expect(results).toHaveLength(callers.length);
    const seen = new Set<string>();
    for (const [i, [id, who]] of callers.entries()) {
      const events: RequestEvents = await env.events(id);
      expect(events, id).toHaveLength(1);
      const [{ event, accountId, region }] = events as [RequestEvents[number]];
      expect(event.action).toBe(
        i % 3 === 0 ? "container-registry.namespace.list" : "container-registry.quota.get",
      );
      expect(event.outcome).toBe("success");
      expect(event.correlationId).toBe(id);
      expect(accountId).toBe(who.account.id);
      expect(region).toBe("us-south");
      expect(event.initiator.id).toBe(who.user.id);
      expect(event.target.id).toContain(`:a/${who.account.id}::`);
      seen.add(event.id);
    }
    expect(seen.size).toBe(callers.length);
    // Nothing of either tenant carries the other's account anywhere in its payload.
    const crossed = await t.sql`
      select count(*)::int as n from outbox
       where (account_id = ${alice.account.id} and payload::text like ${`%${bob.account.id}%`})
          or (account_id = ${bob.account.id} and payload::text like ${`%${alice.account.id}%`})`;
    expect(crossed[0]!.n).toBe(0);
  });
});
