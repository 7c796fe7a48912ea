import { mkdtempSync } from "node:fs";
import { get as httpGet } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BerthClient, createBerthClient, TRPCClientError } from "@berth/client";
import { type AtEvent, eventSchema, type RegionName } from "@berth/core";
import type { Db } from "@berth/db";
import { outbox } from "@berth/db";
import { createTestDatabase, STATE_TABLES, type TestDatabase } from "@berth/db/testing";
import { basic, type Image, pushImage, randomImage, trpc, until } from "@berth/harness";
import { type CreatedAccount, createAccount, FsBlobStore } from "@berth/registry";
import { createTestImage } from "@berth/registry/testing";
import { eq, sql } from "drizzle-orm";
import { afterAll, expect } from "vitest";
import type { RegionListener } from "../src/config";
import { type RunningServer, type StartServerOptions, startServer } from "../src/server";

export const USER_AGENT = "berth-test/1.0";

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
  events(requestId: string): Promise<{ event: AtEvent; region: string; accountId: string }[]>;
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

/** Outbox events of one request, validated against core's schema, in insertion order. */
export async function requestEvents(
  db: Db,
  requestId: string,
): Promise<{ event: AtEvent; region: string; accountId: string }[]> {
  const rows = await db
    .select({ payload: outbox.payload, region: outbox.region, accountId: outbox.accountId })
    .from(outbox)
    .where(sql`${outbox.payload}->>'correlationId' = ${requestId}`)
    .orderBy(outbox.seq);
  return rows.map((r) => ({
    event: eventSchema.parse(r.payload),
    region: r.region,
    accountId: r.accountId,
  }));
}

/** How many events an account has in the outbox: what a refused request must not change. */
export async function eventCount(db: Db, accountId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(outbox)
    .where(eq(outbox.accountId, accountId));
  return row!.n;
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

/** Location of each region inside CRNs, written out here rather than taken from core. */
const LOCATION: Record<string, string> = {
  "us-south": "us-south",
  "ap-north": "jp-tok",
  "ap-south": "au-syd",
  "eu-central": "eu-de",
  "uk-south": "eu-gb",
  global: "global",
};

export function crn(region: string, account: string, type: string, resource: string): string {
  return `crn:v1:bluemix:public:container-registry:${LOCATION[region]}:a/${account}::${type}:${resource}`;
}

export interface ExpectedEvent {
  action: string;
  outcome: "success" | "failure";
  severity: "normal" | "warning" | "critical";
  reasonCode: number;
  who: CreatedAccount;
  targetType: string;
  targetName: string;
  /** CRN resource when it differs from the name (image by digest). */
  crnResource?: string;
  region?: RegionName;
  message?: string;
}

/** Assert one event, field by field, as the tracker will receive it. */
export function checkEvent(
  found: { event: AtEvent; region: string; accountId: string } | undefined,
  requestId: string,
  e: ExpectedEvent,
): AtEvent {
  expect(found, `no event for ${requestId}`).toBeDefined();
  const { event, region, accountId } = found!;
  const r = e.region ?? "us-south";
  const type = e.targetType;
  expect(event.action).toBe(e.action);
  expect(event.outcome).toBe(e.outcome);
  expect(event.severity).toBe(e.severity);
  expect(event.reason.reasonCode).toBe(e.reasonCode);
  if (e.outcome === "failure") {
    expect(event.message.endsWith(" -failure")).toBe(true);
    expect(event.reason.reasonForFailure).toBeTruthy();
  } else {
    expect(event.reason.reasonForFailure).toBeUndefined();
  }
  if (e.message) expect(event.message).toBe(e.message);
  expect(event.target).toEqual({
    id: crn(r, e.who.account.id, type, e.crnResource ?? e.targetName),
    name: e.targetName,
    typeURI: `container-registry/${type}`,
  });
  expect(event.initiator).toEqual({
    id: e.who.user.id,
    name: e.who.user.name,
    typeURI: "service/security/account/user",
    credential: { type: "apikey" },
    host: { address: "127.0.0.1", addressType: "IPv4", agent: USER_AGENT },
  });
  expect(event.logSourceCRN).toBe(crn(r, e.who.account.id, "", ""));
  expect(event.observer).toEqual({ name: "ActivityTracker" });
  expect(event.correlationId).toBe(requestId);
  expect(region).toBe(r);
  expect(accountId).toBe(e.who.account.id);
  return event;
}

/** The single event of a request, checked. */
export async function expectOneEvent(
  env: TestServer,
  requestId: string,
  e: ExpectedEvent,
): Promise<AtEvent> {
  const events = await env.events(requestId);
  expect(events, `events of ${requestId}`).toHaveLength(1);
  return checkEvent(events[0], requestId, e);
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
 * GET `path` of the server at `base` from the loopback address `from` (127.0.0.x: another
 * source than the tests' 127.0.0.1), with `headers`; resolves with the status.
 */
export function getFrom(
  base: string,
  path: string,
  from: string,
  headers: Record<string, string>,
): Promise<number> {
  const { hostname, port } = new URL(base);
  return new Promise<number>((resolve, reject) => {
    httpGet({ host: hostname, port, path, localAddress: from, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on("error", reject);
  });
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

/**
 * A tRPC mutation as a plain HTTP POST (the key as Bearer, `input` as JSON, `headers` added),
 * for tests that read the raw status and body or send headers the client does not.
 */
export function postTrpc(
  base: string,
  apiKey: string,
  path: string,
  input: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(`${base}/trpc/${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json", ...headers },
    body: JSON.stringify(input),
  });
}

/**
 * POST /token the OAuth2 way (a form with grant_type password and user iambearer): a client
 * refreshing the bearer token `jwt` for `scope` (space-separated), optionally naming `service`.
 */
export function refreshByForm(
  base: string,
  jwt: string,
  scope: string,
  service?: string,
): Promise<Response> {
  return fetch(`${base}/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "password",
      username: "iambearer",
      password: jwt,
      ...(service ? { service } : {}),
      scope,
    }).toString(),
  });
}
