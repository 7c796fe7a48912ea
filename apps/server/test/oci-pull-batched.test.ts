import { createBerthClient } from "@berth/client";
import { afterEach, describe, expect, it } from "vitest";
import { forFile, rid, startTestServer, waitFor } from "./helpers";
import { OciClient } from "./oci-client";

// A manifest GET is an audited read: its lookup runs on the pool and its image.pull event is
// group-committed with the other reads' (packages/registry/src/audit-batch.ts). What an
// attacker could hope to slip through that: an answer sent before its event is committed, a
// bearer token whose credential is gone pulling (or writing an event) while a batch is in
// flight, one tenant's pull recorded under another's account.

const env = await forFile(startTestServer());
const { t, alice, bob } = env;
await env.client(alice).namespace.create.mutate({ name: "alicens" });
await env.client(bob).namespace.create.mutate({ name: "bobns" });
await env.image(alice, "alicens/app", "v1");
await env.image(bob, "bobns/tool", "v1");

afterEach(async () => {
  await t.sql`drop trigger if exists refuse_pulls on outbox`;
});

const bearer = (user: string, password: string, repo: string) =>
  OciClient.bearer(env.url(), user, password, [`repository:${repo}:pull`]);

async function get(client: OciClient, requestId: string, path: string) {
  const res = await client.withRequestId(requestId).request("GET", path, {
    headers: { accept: "application/vnd.oci.image.manifest.v1+json" },
  });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

/** Hold an exclusive lock on the outbox: every batch of events waits until released. */
async function holdOutbox(): Promise<() => Promise<void>> {
  const holder = await t.sql.reserve();
  await holder`begin`;
  await holder`lock table outbox in exclusive mode`;
  return async () => {
    await holder`commit`;
    holder.release();
  };
}

/** Until a statement waits for the lock on the outbox (the batch in flight). */
function batchWaiting(): Promise<true> {
  return waitFor("a batch waiting for the outbox", async () => {
    const [row] = await t.sql`
      select count(*)::int as n from pg_locks where relation = 'outbox'::regclass and not granted`;
    return row!.n > 0;
  });
}

/** image.pull events of these request ids: outcome, account and transaction, by request id. */
async function pullEventsOf(ids: string[]) {
  const rows = await t.sql<{ rid: string; outcome: string; account: string; xid: string }[]>`
    select payload->>'correlationId' as rid, payload->>'outcome' as outcome,
           account_id as account, xmin::text as xid
      from outbox where action = 'container-registry.image.pull'
       and payload->>'correlationId' in ${t.sql(ids)}`;
  return rows;
}

describe("a manifest GET", () => {
  it("whose event cannot be committed is not answered: it fails with its failure event, no manifest sent", async () => {
    await t.sql.unsafe(`
      create or replace function refuse_pull_events() returns trigger language plpgsql as $$
      begin
        if new.action = 'container-registry.image.pull' and new.payload->>'outcome' = 'success' then
          raise exception 'outbox refuses the pull';
        end if;
        return new;
      end $$`);
    await t.sql`create trigger refuse_pulls before insert on outbox
                for each row execute function refuse_pull_events()`;
    const client = await bearer("iamapikey", alice.apiKey, "alicens/app");
    const id = rid("refused-pull");
    const answer = await get(client, id, "/v2/alicens/app/manifests/v1");
    expect(answer.status).toBe(500);
    expect(answer.body.toString()).not.toContain("schemaVersion");
    const events = await pullEventsOf([id]);
    expect(events.map((e) => [e.outcome, e.account])).toEqual([["failure", alice.account.id]]);
  });

  it("is answered only once its batch commits; a token whose credential is gone pulls nothing and writes no event while a batch is in flight", async () => {
    const api = createBerthClient({ url: env.url(), apiKey: alice.apiKey });
    const rt = await api.registrytoken.create.mutate({ access: "read" });
    const doomed = await bearer("token", rt.secret, "alicens/app");
    const aliceClient = await bearer("iamapikey", alice.apiKey, "alicens/app");
    const bobClient = await bearer("iamapikey", bob.apiKey, "bobns/tool");
    expect((await get(doomed, rid("alive"), "/v2/alicens/app/manifests/v1")).status).toBe(200);
    // Gone before the outbox is held: its deletion is audited, so it would wait behind it too.
    await api.registrytoken.delete.mutate({ id: rt.id });

    const release = await holdOutbox();
    let released = false;
    try {
      // Pulls by both tenants, held behind the outbox: none may be answered yet.
      const answered: string[] = [];
      const held = Array.from({ length: 10 }, (_, i) => {
        const [client, path] =
          i % 2 === 0
            ? [aliceClient, "/v2/alicens/app/manifests/v1"]
            : [bobClient, "/v2/bobns/tool/manifests/v1"];
        const id = rid(`held-${i}`);
        return get(client, id, path).then((a) => {
          answered.push(id);
          return { id, who: i % 2 === 0 ? alice : bob, ...a };
        });
      });
      await batchWaiting();
      // The gone token's GETs (of a manifest, of an unknown one, of an invalid reference)
      // are refused at once, as unauthenticated, without waiting for (or joining) the batch.
      const deadIds = ["v1", "nope", "-bad-"].map((ref) => [rid(`dead-${ref}`), ref] as const);
      for (const [id, ref] of deadIds) {
        const answer = await get(doomed, id, `/v2/alicens/app/manifests/${ref}`);
        expect(answer.status, ref).toBe(401);
        expect(answer.body.toString()).not.toContain("schemaVersion");
      }
      expect(answered).toEqual([]);
      await release();
      released = true;
      const results = await Promise.all(held);
      const events = await pullEventsOf([
        ...results.map((r) => r.id),
        ...deadIds.map(([id]) => id),
      ]);
      // Exactly one success per held GET, under the puller's own account; none for the dead token.
      expect(events).toHaveLength(results.length);
      for (const r of results) {
        expect(r.status, r.id).toBe(200);
        const own = events.filter((e) => e.rid === r.id);
        expect(
          own.map((e) => [e.outcome, e.account]),
          r.id,
        ).toEqual([["success", r.who.account.id]]);
      }
      // Group-committed: the held GETs' events went in fewer transactions than GETs.
      expect(new Set(events.map((e) => e.xid)).size).toBeLessThan(results.length);
    } finally {
      if (!released) await release();
    }
  });
});
