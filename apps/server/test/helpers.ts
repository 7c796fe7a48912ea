import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BerthClient, createBerthClient, TRPCClientError } from "@berth/client";
import type { RegionName } from "@berth/core";
import type { Db } from "@berth/db";
import { createTestDatabase, STATE_TABLES, type TestDatabase } from "@berth/db/testing";
import { basic, type Image, pushImage, randomImage, trpc, until } from "@berth/harness";
import { type CreatedAccount, createAccount, FsBlobStore } from "@berth/registry";
import { createTestImage } from "@berth/registry/testing";
import { afterAll, expect } from "vitest";
import type { RegionListener } from "../src/config";
import { type RunningServer, type StartServerOptions, startServer } from "../src/server";
import { type RequestEvents, requestEvents, USER_AGENT } from "./expect-events";

export interface TestServer {
  t: TestDatabase;
  store: FsBlobStore;
  server: RunningServer;
  logs: string[];
  alice: CreatedAccount;
  bob: CreatedAccount;
  url(region?: RegionName): string;
  client(who: CreatedAccount | { apiKey?: string }, region?: RegionName): BerthClient;
  /** An image of `who`'s in us-south, written straight to the store (no events). */
  image(who: CreatedAccount, repository: string, tag?: string): ReturnType<typeof createTestImage>;
  /** Outbox events of one request, validated against core's schema, in insertion order. */
  events(requestId: string): Promise<RequestEvents>;
  close(): Promise<void>;
}

/**
 * A fresh database and blob store, a server on them (us-south unless `opts.regions` says
 * otherwise; its debug log kept in `logs`; `opts` go to startServer), alice and bob.
 */
export async function startTestServer(
  opts: Partial<Omit<StartServerOptions, "db" | "store">> = {},
): Promise<TestServer> {
  const t = await createTestDatabase();
  const store = new FsBlobStore(mkdtempSync(join(tmpdir(), "berth-srv-")));
  const logs: string[] = [];
  const regions: RegionListener[] = opts.regions ?? [{ region: "us-south", port: 0 }];
  const server = await startServer({
    logLevel: "debug",
    logDestination: { write: (line: string) => void logs.push(line) },
    ...opts,
    db: t.db,
    store,
    regions,
  });
  const alice = await createAccount(t.db, { name: "alice", userName: "alice@example.com" });
  const bob = await createAccount(t.db, { name: "bob", userName: "bob@example.com" });
  const url = (region: RegionName = regions[0]!.region) => server.urls[region]!;
  return {
    t,
    store,
    server,
    logs,
    alice,
    bob,
    url,
    image: (who, repository, tag = "1") =>
      createTestImage(t.db, store, {
        accountId: who.account.id,
        region: "us-south",
        repository,
        tag,
      }),
    client: (who, region) =>
      createBerthClient({
        url: url(region),
        ...(who.apiKey ? { apiKey: who.apiKey } : {}),
        headers: { "user-agent": USER_AGENT },
      }),
    events: (requestId) => requestEvents(t.db, requestId),
    async close() {
      await server.close();
      await t.drop();
    },
  };
}

let counter = 0;
/** A fresh request id, sent as x-request-id and expected back as correlationId. */
export function rid(label = "req"): string {
  return `${label}-${Date.now().toString(36)}-${(++counter).toString(36)}`;
}

/** tRPC call options that send `requestId` as x-request-id (to find the call's events). */
export function on(requestId: string): { context: { requestId: string } } {
  return { context: { requestId } };
}

/**
 * Poll `check` (bounded: `ms`, 25 ms apart) until it holds; the error names `what` was
 * awaited. For conditions a test cannot await directly (a subscription's messages, counters
 * written after the response).
 */
export function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  ms = 20_000,
): Promise<true> {
  return until(what, async () => (await check()) || undefined, ms, 25);
}

/** Run a call expected to fail; returns the tRPC error. */
export async function rejects(p: Promise<unknown>): Promise<TRPCClientError<never>> {
  const error = await p.then(
    () => {
      throw new Error("the call was expected to fail");
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCClientError);
  return error as TRPCClientError<never>;
}

/** tRPC error code, HTTP status and Berth code of a failed call. */
export function errorInfo(error: TRPCClientError<never>) {
  const data = error.data as unknown as {
    code?: string;
    httpStatus?: number;
    berthCode?: string | null;
  };
  return { code: data?.code, httpStatus: data?.httpStatus, berthCode: data?.berthCode ?? null };
}

/**
 * One fixture for the whole test file (a test server, an OCI environment, a database):
 * awaited as the file loads (top-level await), closed or dropped after its last test, so each
 * file does not repeat the beforeAll/afterAll pair.
 */
export async function forFile<T extends { close(): Promise<void> } | { drop(): Promise<void> }>(
  made: Promise<T>,
): Promise<T> {
  const fixture = await made;
  afterAll(() => ("close" in fixture ? fixture.close() : fixture.drop()));
  return fixture;
}

/**
 * A server on `db` as most tests want one, beside or instead of startTestServer's: a fresh
 * blob store, one us-south listener and no logs, unless `opts` says otherwise.
 */
export function serverOn(db: Db, opts: Partial<StartServerOptions> = {}): Promise<RunningServer> {
  return startServer({
    db,
    store: new FsBlobStore(mkdtempSync(join(tmpdir(), "berth-srv-"))),
    regions: [{ region: "us-south", port: 0 }],
    logLevel: "silent",
    ...opts,
  });
}

/**
 * Through the API, as a client would (audited): `apiKey`'s namespace of `repository`, and a
 * random image of one layer of `layerBytes` pushed there as tag 1. Returns the image and the
 * digest of its layer.
 */
export async function pushNewImage(
  url: string,
  apiKey: string,
  repository: string,
  layerBytes: number,
): Promise<{ image: Image; layer: string }> {
  await trpc(url, apiKey, "namespace.create", { name: repository.split("/")[0] }, rid());
  const image = randomImage([layerBytes]);
  await pushImage(url, repository, "1", image, {
    auth: basic("iamapikey", apiKey),
    requestId: rid(),
  });
  return { image, layer: JSON.parse(image.manifest.toString()).layers[0].digest };
}

/**
 * Every place a secret must never reach, as [where, text]: the server's logs, /metrics, the
 * events and the rows of each state table.
 */
export async function secretPlaces(env: TestServer): Promise<[string, string][]> {
  const places: [string, string][] = [
    ["the logs", env.logs.join("\n")],
    ["/metrics", await (await fetch(`${env.url()}/metrics`)).text()],
    [
      "the events",
      JSON.stringify((await env.t.sql`select payload from outbox`).map((r) => r.payload)),
    ],
  ];
  for (const table of STATE_TABLES) {
    places.push([
      `table ${table}`,
      JSON.stringify(await env.t.sql.unsafe(`select t::text as row from "${table}" t`)),
    ]);
  }
  return places;
}
