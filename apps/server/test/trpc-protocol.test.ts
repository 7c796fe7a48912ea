import { appRouter, createContextFactory, MAX_BATCH_SIZE } from "@berth/api";
import { type CreateFastifyContextOptions, fastifyTRPCPlugin } from "@trpc/server/adapters/fastify";
import Fastify from "fastify";
import { afterAll, describe, expect, it } from "vitest";
import { forFile, startTestServer } from "./helpers";

// The server answers plain JSON queries and mutations itself (plugins/trpc-json.ts) and
// leaves the rest to tRPC's handler: every row must get the answer tRPC's own fastify
// plugin gives, on the same router and database.
const env = await forFile(startTestServer());
const reference = Fastify();
const context = createContextFactory({ db: env.t.db, store: env.store, region: "us-south" });
await reference.register(fastifyTRPCPlugin, {
  prefix: "/trpc",
  trpcOptions: {
    router: appRouter,
    maxBatchSize: MAX_BATCH_SIZE,
    createContext: ({ req }: CreateFastifyContextOptions) =>
      context({
        headers: req.headers,
        requestId: req.id,
        clientIp: req.ip,
        userAgent: req.headers["user-agent"] ?? "",
      }),
  },
});
const referenceUrl = await reference.listen({ port: 0, host: "127.0.0.1" });
afterAll(() => reference.close());

const key = { authorization: `Bearer ${env.alice.apiKey}` };
const json = { ...key, "content-type": "application/json" };
const input = (value: unknown) => `input=${encodeURIComponent(JSON.stringify(value))}`;

type Row = [
  what: string,
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
];
const rows: Row[] = [
  ["a query", "GET", "whoami", key],
  ["an audited query", "GET", "quota.get", key],
  ["a query with input", "GET", `namespace.list?${input({ limit: 5 })}`, key],
  ["no API key", "GET", "whoami", {}],
  ["an unknown API key", "GET", "whoami", { authorization: "Bearer berth_ak_not-a-key-at-all" }],
  ["a batch", "GET", `whoami,quota.get?batch=1&${input({})}`, key],
  ["a batch of one", "GET", `whoami?batch=1`, key],
  [
    "a batch with a refused call (207)",
    "GET",
    `whoami,namespace.list?batch=1&${input({ 1: { limit: -1 } })}`,
    key,
  ],
  ["a batch without a key", "GET", "whoami,quota.get?batch=1", {}],
  ["a mutation", "POST", "quota.set", json, JSON.stringify({ storageMb: 100 })],
  ["a mutation refused", "POST", "namespace.delete", json, JSON.stringify({ name: "nothere" })],
  ["a mutation with bad input", "POST", "namespace.create", json, JSON.stringify({ name: 7 })],
  ["a mutation without input", "POST", "namespace.create", json],
  [
    "a mutation with a charset",
    "POST",
    "quota.set",
    { ...json, "content-type": "application/json; charset=utf-8" },
    "{}",
  ],
  ["a query by POST", "POST", "whoami", json, "{}"],
  ["a mutation by GET", "GET", "namespace.create", key],
  ["an unknown procedure", "GET", "no.such", key],
  ["a router's name", "GET", "namespace", key],
  ["input that is not JSON", "POST", "quota.set", json, "{nope"],
  ["query input that is not JSON", "GET", "namespace.list?input=%7Bnope", key],
  ["another content type", "POST", "quota.set", { ...key, "content-type": "text/plain" }, "{}"],
  ["a batch input that is no object", "GET", `whoami?batch=1&${input([1])}`, key],
  ["a streamed batch", "GET", "whoami?batch=1", { ...key, "trpc-accept": "application/jsonl" }],
  ["a path that does not decode", "GET", "who%E0ami", key],
];

async function answer(base: string, [, method, path, headers, body]: Row) {
  const res = await fetch(`${base}/trpc/${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
  const text = await res.text();
  return {
    status: res.status,
    contentType: res.headers.get("content-type"),
    vary: res.headers.get("vary"),
    allow: res.headers.get("allow"),
    // A streamed batch is lines of JSON: compared as text.
    body:
      res.headers.get("content-type")?.startsWith("application/json") && !headers["trpc-accept"]
        ? JSON.parse(text)
        : text,
  };
}

describe("tRPC's protocol", () => {
  it.each(rows)("%s: answered as tRPC's own handler answers", async (...row) => {
    const ours = await answer(env.url(), row);
    const theirs = await answer(referenceUrl, row);
    expect(ours).toEqual(theirs);
  });
});
