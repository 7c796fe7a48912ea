import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { enqueue, makeEvent } from "./events";
import { databaseAndTracker, outboxCounts, storedCount, waitFor, workerOn } from "./harness";
import { runScript } from "./processes";

const { t, tracker } = await databaseAndTracker();

describe("poison events", () => {
  it("dead-letters the event the tracker rejects, delivers the rest, and redrives it once fixed", async () => {
    const worker = await workerOn(t, tracker.url);
    try {
      await rejectedThenRedriven();
    } finally {
      await worker.stop();
    }
  });

  async function rejectedThenRedriven() {
    const good = Array.from({ length: 50 }, () => makeEvent());
    const poison = makeEvent({ account: "poisoned" });
    // Corrupt, as a bug in an older release might have written it.
    const corrupt = { ...poison, severity: "critical" as const };
    await enqueue(t.db, [...good.slice(0, 25), corrupt, ...good.slice(25)]);

    await waitFor(
      "delivery",
      () =>
        storedCount(
          t,
          good.map((e) => e.id),
        ),
      (n) => n === 50,
    );
    const [dead] = await waitFor(
      "dead letter",
      () => t.sql<{ id: string; last_error: string; attempts: number }[]>`
        select id, last_error, attempts from outbox where status = 'dead'`,
      (rows) => rows.length === 1,
    );
    expect(dead).toMatchObject({ id: poison.id, attempts: 1 });
    expect(dead!.last_error).toBe("tracker rejected the event");
    expect(await outboxCounts(t)).toEqual({ pending: 0, dead: 1 });
    expect(await storedCount(t, [poison.id])).toBe(0);

    // Fix it, then redrive through the command line, as an operator would.
    await t.sql`update outbox set payload = ${JSON.stringify(poison)}::text::jsonb
                 where id = ${poison.id}`;
    const list = runScript("src/redrive.ts", { DATABASE_URL: t.url }, ["--list"]);
    expect(await list.exited).toBe(0);
    expect(list.output().out).toContain(poison.id);
    const cli = runScript("src/redrive.ts", { DATABASE_URL: t.url }, ["--id", poison.id]);
    expect(await cli.exited).toBe(0);
    expect(cli.output().out).toMatch(/redriven: 1 event/);

    await waitFor(
      "redriven delivery",
      () => storedCount(t, [poison.id]),
      (n) => n === 1,
    );
    await waitFor(
      "empty outbox",
      () => outboxCounts(t),
      (c) => c.pending + c.dead === 0,
    );
    expect(tracker.stats().duplicates).toBe(0);
  }

  it("isolates an event whose batch a plain ingestion service refuses as a whole", async () => {
    // A LogDNA-style receiver: 400 for the whole batch if any line is bad, no per-event results.
    const received = new Set<string>();
    let requests = 0;
    const server: Server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        requests++;
        const lines = (
          JSON.parse(body) as {
            lines: { meta: { id: string; account?: string; target: { id: string } } }[];
          }
        ).lines;
        if (lines.some((l) => l.meta.target.id.includes("a/poisoned:"))) {
          res.writeHead(400, { "content-type": "application/json" });
          res.end('{"error":"bad line"}');
          return;
        }
        for (const l of lines) received.add(l.meta.id);
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"status":"ok","batchID":"x"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await t.sql`delete from outbox`;
    const plain = await workerOn(t, url, { batchSize: 64 });
    try {
      const good = Array.from({ length: 63 }, () => makeEvent());
      const poison = makeEvent({ account: "poisoned" });
      await enqueue(t.db, [...good.slice(0, 40), poison, ...good.slice(40)]);
      const [dead] = await waitFor(
        "dead letter",
        () => t.sql<{ id: string; last_error: string }[]>`
          select id, last_error from outbox where status = 'dead'`,
        (rows) => rows.length === 1,
      );
      expect(dead!.id).toBe(poison.id);
      expect(dead!.last_error).toBe("tracker rejected the event (400)");
      await waitFor(
        "others delivered",
        async () => received.size,
        (n) => n === 63,
      );
      await waitFor(
        "outbox settled",
        () => outboxCounts(t),
        (c) => c.pending === 0,
      );
      // Halving isolates it in about log2(64) rounds, not 64 requests.
      expect(requests).toBeLessThan(20);
    } finally {
      await plain.stop();
      await new Promise((r) => server.close(r));
    }
  });
});
