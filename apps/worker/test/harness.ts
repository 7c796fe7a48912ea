import http from "node:http";
import type { AddressInfo } from "node:net";
import { createTestDatabase, type TestDatabase } from "@berth/db/testing";
import { type RunningTracker, startTracker } from "@berth/tracker/tracker";
import pino from "pino";
import { afterAll, beforeAll } from "vitest";
import { type RunningWorker, startWorker, type WorkerOptions } from "../src/worker";

export const QUERY_KEY = "test-query-key";
export const quiet = () => pino({ level: process.env.TEST_LOG ?? "silent" });

export function trackerOn(t: TestDatabase, port = 0): Promise<RunningTracker> {
  return startTracker({
    databaseUrl: t.url,
    port,
    ingestionKeys: "test-ingest",
    queryKey: QUERY_KEY,
    logger: quiet(),
  });
}

/**
 * A fresh database for the test file, made before its tests and dropped after them; `use`
 * is given it (files keep it in a `let` of their own, so their tests read as before).
 */
export function withDatabase(use: (t: TestDatabase) => void): void {
  let t: TestDatabase | undefined;
  beforeAll(async () => {
    t = await createTestDatabase();
    use(t);
  });
  afterAll(async () => t?.drop());
}

/**
 * withDatabase, and an in-process tracker on it, for a whole test file (top-level await):
 * `const { t, tracker } = await databaseAndTracker();`. The tracker is stopped after the
 * file's tests, then the database dropped (vitest runs afterAll hooks last-registered first,
 * so a file's own afterAll, registered after this call, runs before both).
 */
export async function databaseAndTracker(): Promise<{ t: TestDatabase; tracker: RunningTracker }> {
  const t = await createTestDatabase();
  afterAll(() => t.drop());
  const tracker = await trackerOn(t);
  afterAll(() => tracker.stop());
  return { t, tracker };
}

/** A worker tuned for tests: quick polls, short leases, short backoff. */
export function workerOn(
  t: TestDatabase,
  trackerUrl: string,
  extra: Partial<WorkerOptions> = {},
): Promise<RunningWorker> {
  return startWorker({
    databaseUrl: t.url,
    trackerUrl,
    trackerKeys: "test-ingest",
    port: 0,
    pollMs: 200,
    leaseMs: 3000,
    requestTimeoutMs: 2000,
    retryBaseMs: 50,
    retryMaxMs: 400,
    batchSize: 200,
    logger: quiet(),
    ...extra,
  });
}

/** Poll until `check` holds, bounded in time; fail with what was last seen. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 45_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T = await probe();
  while (!check(last)) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
    last = await probe();
  }
  return last;
}

export async function outboxCounts(t: TestDatabase) {
  const [r] = await t.sql<{ pending: number; dead: number }[]>`
    select count(*) filter (where status = 'pending')::int as pending,
           count(*) filter (where status = 'dead')::int as dead
      from outbox`;
  return r!;
}

/** Events stored by the tracker, per region: `{ "ap-south": n, ... }`. */
export async function storedByRegion(t: TestDatabase): Promise<Record<string, number>> {
  const rows = await t.sql<{ region: string; n: number }[]>`
    select region, count(*)::int as n from tracker.events group by region`;
  return Object.fromEntries(rows.map((r) => [r.region, r.n]));
}

export async function storedCount(t: TestDatabase, ids?: string[]): Promise<number> {
  const [r] = ids
    ? await t.sql<
        { n: number }[]
      >`select count(*)::int as n from tracker.events where id = any(${ids}::uuid[])`
    : await t.sql<{ n: number }[]>`select count(*)::int as n from tracker.events`;
  return r!.n;
}

type Stoppable = { stop(): Promise<unknown> } | { close(): Promise<unknown> };

/**
 * Stop (or close) each in the order given, for a test's finally: the workers first, then
 * the tracker and receivers they talk to. An `undefined` (never started) is passed over.
 */
export async function stopAll(...parts: (Stoppable | undefined)[]): Promise<void> {
  for (const part of parts) {
    if (part) await ("stop" in part ? part.stop() : part.close());
  }
}

/**
 * A pass-through proxy in front of the tracker that can hold answers: `hold` decides, per
 * request, whether to forward it and then keep the worker waiting (never answer, or answer
 * after `delayMs`). Lets tests crash or stop a worker with a batch provably in flight.
 */
export async function proxyTo(
  target: string,
  hold: (n: number) => { forward: boolean; delayMs?: number; never?: boolean },
) {
  let n = 0;
  let open = 0;
  let most = 0;
  const seen: { n: number; stored: Promise<void> }[] = [];
  const server = http.createServer((req, res) => {
    const i = ++n;
    most = Math.max(most, ++open);
    res.on("close", () => open--);
    const policy = hold(i);
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", async () => {
      let answer: Response | undefined;
      const stored = (async () => {
        if (!policy.forward) return;
        answer = await fetch(`${target}${req.url}`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            authorization: req.headers.authorization ?? "",
          },
          body,
        });
      })();
      seen.push({ n: i, stored });
      await stored;
      if (policy.never) return;
      if (policy.delayMs) await new Promise((r) => setTimeout(r, policy.delayMs));
      if (!answer) {
        res.writeHead(503).end();
        return;
      }
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(await answer.text());
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => n,
    /** The most requests it held at once, from arrival to answer. */
    mostAtOnce: () => most,
    /** Resolves once request `i` has been forwarded and stored by the tracker. */
    async stored(i: number): Promise<void> {
      const entry = await waitFor(
        "proxied request",
        async () => seen.find((s) => s.n === i),
        Boolean,
      );
      await entry!.stored;
    },
    close(): Promise<void> {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
