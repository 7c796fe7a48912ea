import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { accountTarget, actionEvent } from "../src/audit";
import { commitEvents } from "../src/audit-batch";
import { accountId, type RegistryContext } from "../src/context";
import { getQuota } from "../src/quota/get";
import { setup } from "./helpers";

// The group commit of audited reads' events: what waits while a batch is in flight goes
// together in the next one, each caller is released only by its own batch's commit, and a
// failed batch fails each of its callers.

const env = await setup();
afterAll(() => env.drop());

const entry = (ctx: RegistryContext) => ({
  event: actionEvent(ctx, "container-registry.quota.get", { target: accountTarget(ctx) }),
  accountId: accountId(ctx),
  region: ctx.region,
});

/** Transaction ids (xmin) of the outbox rows of these request ids, by request id. */
async function xidsOf(requestIds: string[]): Promise<Map<string, string>> {
  const rows = await env.t.db.execute<{ rid: string; xid: string }>(sql`
    select payload->>'correlationId' as rid, xmin::text as xid from outbox
     where payload->>'correlationId' in ${requestIds}`);
  return new Map(rows.map((r) => [r.rid, r.xid]));
}

/** Hold an exclusive lock on the outbox until the returned function is called. */
async function holdOutbox(): Promise<() => Promise<void>> {
  const holder = await env.t.sql.reserve();
  await holder`begin`;
  await holder`lock table outbox in exclusive mode`;
  return async () => {
    await holder`commit`;
    holder.release();
  };
}

/** Until a statement waits for a lock on the outbox (the batch in flight). */
async function batchWaiting(): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const [row] = await env.t.sql`
      select count(*)::int as n from pg_locks where relation = 'outbox'::regclass and not granted`;
    if (row!.n > 0) return;
    if (Date.now() > deadline) throw new Error("no batch came to wait for the outbox");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("commitEvents", () => {
  it("commits the events that arrive while a batch is in flight together, in the next batch", async () => {
    const release = await holdOutbox();
    const firstCtx = env.ctx(env.alice);
    let firstDone = false;
    const first = commitEvents(env.t.db, [entry(firstCtx)]).then(() => {
      firstDone = true;
    });
    await batchWaiting();
    const ctxs = Array.from({ length: 10 }, (_, i) => env.ctx(i % 2 ? env.bob : env.alice));
    let restDone = 0;
    const rest = ctxs.map((ctx) =>
      commitEvents(env.t.db, [entry(ctx)]).then(() => {
        restDone++;
      }),
    );
    // Nothing is released while its transaction has not committed.
    await new Promise((r) => setTimeout(r, 50));
    expect([firstDone, restDone]).toEqual([false, 0]);
    await release();
    await Promise.all([first, ...rest]);
    const xids = await xidsOf([firstCtx, ...ctxs].map((c) => c.requestId));
    expect(xids.size).toBe(11);
    const restXids = new Set(ctxs.map((c) => xids.get(c.requestId)));
    expect(restXids.size).toBe(1);
    expect(restXids.has(xids.get(firstCtx.requestId))).toBe(false);
  });

  it("fails every caller of a batch that fails, and commits none of its events", async () => {
    const release = await holdOutbox();
    const blocker = commitEvents(env.t.db, [entry(env.ctx(env.alice))]);
    await batchWaiting();
    const ctxs = Array.from({ length: 5 }, () => env.ctx(env.alice));
    const good = ctxs.map((ctx) => commitEvents(env.t.db, [entry(ctx)]));
    // An event the outbox cannot take (a NUL in its payload) in the same batch.
    const badCtx = env.ctx(env.bob);
    const bad = entry(badCtx);
    (bad.event as unknown as Record<string, unknown>).message = "\u0000";
    const failing = commitEvents(env.t.db, [bad]);
    // Settled as they come: with a batch slot free, this batch may fail before the lock goes.
    const outcomes = Promise.allSettled([...good, failing]);
    await release();
    await blocker;
    const settled = await outcomes;
    expect(settled.map((s) => s.status)).toEqual(settled.map(() => "rejected"));
    const xids = await xidsOf([...ctxs, badCtx].map((c) => c.requestId));
    expect(xids.size).toBe(0);
  });

  it("answers an audited read only after its event is committed", async () => {
    const release = await holdOutbox();
    const ctx = env.ctx(env.alice);
    let answered = false;
    const read = getQuota(ctx).then((q) => {
      answered = true;
      return q;
    });
    await batchWaiting();
    await new Promise((r) => setTimeout(r, 50));
    expect(answered).toBe(false);
    expect((await xidsOf([ctx.requestId])).size).toBe(0);
    await release();
    expect((await read).region).toBe("us-south");
    expect(await env.events(ctx.requestId)).toHaveLength(1);
  });
});
