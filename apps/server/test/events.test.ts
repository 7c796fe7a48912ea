import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { TailMessage } from "@berth/api";
import { type BerthClient, createBerthClient, untracked } from "@berth/client";
import { createAccount } from "@berth/registry";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../src/server";
import { requestEvents } from "./expect-events";
import { errorInfo, forFile, on, rejects, rid, serverOn, waitFor } from "./helpers";
import { startTrackerBed } from "./tracker-bed";

// events.query / events.tail against a real tracker process: the caller's account only,
// filters, pagination, routing of the default region, live tail, and the failure modes.

const { t, tracker, alice, bob, client, deliver } = await forFile(
  startTrackerBed({
    regions: [
      { region: "us-south", port: 0 },
      { region: "ap-north", port: 0 },
    ],
  }),
);
const extra: RunningServer[] = [];
afterAll(() => Promise.allSettled(extra.map((s) => s.close())));

async function serverWith(opts: {
  tracker?: { url: string; queryKey: string };
  logLevel?: "info";
  logDestination?: { write(line: string): void };
}) {
  const s = await serverOn(t.db, {
    ...opts,
  });
  extra.push(s);
  return createBerthClient({ url: s.urls["us-south"]!, apiKey: alice.apiKey });
}

const created: Record<string, string> = {};

beforeAll(async () => {
  for (const [who, name] of [
    [alice, "alice-birds"],
    [alice, "alice-fish"],
    [bob, "bob-birds"],
  ] as const) {
    const r = rid(name);
    await client(who).namespace.create.mutate({ name }, on(r));
    await deliver(r, "us-south");
    created[name] = r;
  }
  // A failure event of alice's: a taken name.
  const failed = rid("taken");
  await client(alice)
    .namespace.create.mutate({ name: "bob-birds" }, on(failed))
    .catch(() => {});
  await deliver(failed, "us-south");
  created.failed = failed;
}, 120_000);

describe("events.query", () => {
  it("returns the caller's events only, newest first, from the region its events go to", async () => {
    const page = await client(alice).events.query.query();
    expect(page.region).toBe("us-south");
    const messages = page.lines.map((l) => l.event.message);
    expect(messages).toEqual([
      "Container Registry: create namespace bob-birds -failure",
      "Container Registry: create namespace alice-fish",
      "Container Registry: create namespace alice-birds",
    ]);
    for (const line of page.lines) expect(line._account).toBe(alice.account.id);
    expect(page.paginationId).toBeNull();

    const bobs = await client(bob).events.query.query({});
    expect(bobs.lines.map((l) => l.event.target.name)).toEqual(["bob-birds"]);
  });

  it("filters by outcome, action, text and target, and pages with paginationId", async () => {
    const A = client(alice);
    const failures = await A.events.query.query({ outcome: ["failure"] });
    expect(failures.lines.map((l) => l.event.correlationId)).toEqual([created.failed]);
    const byAction = await A.events.query.query({
      action: ["container-registry.namespace.create"],
      outcome: ["success"],
    });
    expect(byAction.lines).toHaveLength(2);
    const byText = await A.events.query.query({ query: "FISH" });
    expect(byText.lines.map((l) => l.event.target.name)).toEqual(["alice-fish"]);
    const byTarget = await A.events.query.query({ target: "alice-*" });
    expect(byTarget.lines).toHaveLength(2);

    const first = await A.events.query.query({ size: 2 });
    expect(first.lines).toHaveLength(2);
    expect(first.paginationId).toBeTruthy();
    const second = await A.events.query.query({ size: 2, paginationId: first.paginationId! });
    expect(second.lines.map((l) => l.event.target.name)).toEqual(["alice-birds"]);
    expect(second.paginationId).toBeNull();
  });

  it("defaults an ap-north endpoint to ap-south, where its events are routed", async () => {
    const r = rid("tokyo");
    const north = client(alice, "ap-north");
    await north.namespace.create.mutate({ name: "tokyo-birds" }, on(r));
    expect((await requestEvents(t.db, r))[0]!.region).toBe("ap-north");
    await deliver(r, "ap-south");
    const page = await north.events.query.query();
    expect(page.region).toBe("ap-south");
    expect(page.lines.map((l) => l.event.target.name)).toEqual(["tokyo-birds"]);
    // Any tracker region can be asked for explicitly.
    const us = await north.events.query.query({ region: "us-south" });
    expect(us.lines).toHaveLength(3);
  });

  it("writes no event of its own", async () => {
    const r = rid("query");
    await client(alice).events.query.query({}, on(r));
    await client(alice).delivery.status.query(undefined, on(r));
    expect(await requestEvents(t.db, r)).toEqual([]);
  });

  it("refuses bad input, unknown callers, and explains an absent or failing tracker", async () => {
    const A = client(alice);
    const bad = errorInfo(await rejects(A.events.query.query({ region: "Not A Region" })));
    expect(bad.code).toBe("BAD_REQUEST");
    expect(errorInfo(await rejects(A.events.query.query({ size: 0 }))).code).toBe("BAD_REQUEST");
    const cursor = await rejects(A.events.query.query({ paginationId: "garbage" }));
    expect(errorInfo(cursor).code).toBe("BAD_REQUEST");
    expect(cursor.message).toMatch(/^bad event query: /);
    const time = await rejects(A.events.query.query({ from: "yesterday-ish" }));
    expect(errorInfo(time).code).toBe("BAD_REQUEST");
    // The account filter is the caller's: it cannot be supplied.
    const smuggled = A.events.query.query({ account: bob.account.id } as never);
    expect(errorInfo(await rejects(smuggled)).code).toBe("BAD_REQUEST");
    expect(errorInfo(await rejects(client(undefined).events.query.query())).code).toBe(
      "UNAUTHORIZED",
    );

    const none = await rejects((await serverWith({})).events.query.query());
    expect(errorInfo(none).code).toBe("PRECONDITION_FAILED");
    expect(none.message).toMatch(/no tracker configured/);

    const wrongKey = await serverWith({ tracker: { url: tracker.url, queryKey: "wrong-key-1" } });
    const refused = await rejects(wrongKey.events.query.query());
    expect(errorInfo(refused).code).toBe("BAD_GATEWAY");
    expect(refused.message).toMatch(/^tracker unavailable: .*\(tracker error\)$/);
    expect(refused.message).not.toContain("wrong-key-1");

    const gone = await serverWith({
      tracker: { url: "http://127.0.0.1:9", queryKey: "k-1234567" },
    });
    const unreachable = await rejects(gone.events.query.query());
    expect(errorInfo(unreachable).code).toBe("SERVICE_UNAVAILABLE");
    expect(unreachable.message).toMatch(/^tracker unavailable: .*cannot be reached$/);
    expect(unreachable.message).not.toContain("127.0.0.1:9");
  });

  it("tells a tenant a classified reason, never the tracker's URL or answer; logs them", async () => {
    // A tracker that answers with what an operator may see and a tenant may not: its own
    // address, internal hosts, a stack, and a non-JSON body.
    const secret = "secret-marker-7f3a";
    let fakeUrl = "";
    const fake: Server = createServer((req, res) => {
      const body = `${secret} at ${fakeUrl}${req.url} via http://internal.example:7400/x\n    at handler (/srv/tracker.js:1:1)`;
      if (req.url?.startsWith("/regions/eu-de/")) {
        res.writeHead(400, { "content-type": "text/plain" }).end(body);
      } else if (req.url?.startsWith("/regions/uk-south/")) {
        res
          .writeHead(400, { "content-type": "application/json" })
          .end(JSON.stringify({ error: `bad filter; see ${fakeUrl}/docs and ${secret}x` }));
      } else {
        res.writeHead(500, { "content-type": "text/plain" }).end(body);
      }
    });
    await new Promise<void>((r) => fake.listen(0, "127.0.0.1", r));
    fakeUrl = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    const logs: string[] = [];
    try {
      const c = await serverWith({
        tracker: { url: fakeUrl, queryKey: "k-1234567" },
        logLevel: "info",
        logDestination: { write: (line) => void logs.push(line) },
      });
      const failures = [
        await rejects(c.events.query.query()),
        await rejects(c.events.query.query({ region: "eu-de" })),
        await rejects(c.events.query.query({ region: "uk-south" })),
      ];
      const t1 = tail(c, {});
      const t2 = tail(c, { region: "eu-de" });
      try {
        await waitFor("the tail's errors", () => t1.errors.length > 0 || t2.errors.length > 0);
        await waitFor("the second tail's error", () => t2.errors.length > 0);
      } finally {
        t1.unsubscribe();
        t2.unsubscribe();
      }
      // t1's error is retryable (the client keeps trying): its state says why; t2's is final.
      const tailError = t2.errors[0] as Error & { data?: unknown; shape?: unknown };
      const [server5xx, raw400, json400] = failures;
      expect(errorInfo(server5xx!).code).toBe("BAD_GATEWAY");
      expect(server5xx!.message).toBe(
        "tracker unavailable: the tracker of region us-south refused the request (tracker error)",
      );
      expect(errorInfo(raw400!).code).toBe("BAD_REQUEST");
      expect(raw400!.message).toBe("bad event query");
      expect(errorInfo(json400!).code).toBe("BAD_REQUEST");
      expect(json400!.message).toBe(
        "bad event query: bad filter; see <url> and secret-marker-7f3ax",
      );
      expect(tailError.message).toBe("bad event query");
      const told = JSON.stringify(
        [...failures, tailError].map((e) => ({
          message: e.message,
          data: (e as { data?: unknown }).data,
          shape: (e as { shape?: unknown }).shape,
        })),
      );
      const port = new URL(fakeUrl).port;
      for (const leak of [
        fakeUrl,
        `:${port}`,
        "internal.example",
        "/srv/tracker.js",
        "k-1234567",
      ]) {
        expect(told, `what the tenant was told contains ${leak}`).not.toContain(leak);
      }
      expect(told.replaceAll("secret-marker-7f3ax", "")).not.toContain(secret);
      // The operator's log has what the tenant was not told.
      const logged = logs.join("");
      expect(logged).toContain(fakeUrl);
      expect(logged).toContain(secret);
    } finally {
      await new Promise((r) => fake.close(r));
    }
  });
});

/** Subscribe to events.tail and collect what arrives. */
function tail(c: BerthClient, input: Parameters<BerthClient["events"]["tail"]["subscribe"]>[0]) {
  const messages: TailMessage[] = [];
  const errors: unknown[] = [];
  const sub = c.events.tail.subscribe(input, {
    onData: (m) => void messages.push(untracked(m)),
    onError: (e) => void errors.push(e),
  });
  return { messages, errors, unsubscribe: () => sub.unsubscribe() };
}

describe("events.tail", () => {
  it("streams the caller's new events over SSE once ready, and nobody else's", async () => {
    const a = tail(client(alice), {});
    const failures = tail(client(alice), { outcome: ["failure"] });
    try {
      await waitFor("ready", () => a.messages.length > 0 && failures.messages.length > 0);
      expect(a.messages[0]).toEqual({ kind: "ready", region: "us-south" });

      const rb = rid("bob-live");
      await client(bob).namespace.create.mutate({ name: "bob-live" }, on(rb));
      await deliver(rb, "us-south");
      const ra = rid("alice-live");
      await client(alice).namespace.create.mutate({ name: "alice-live" }, on(ra));
      await deliver(ra, "us-south");
      const rf = rid("alice-fail");
      await client(alice)
        .namespace.create.mutate({ name: "alice-live" }, on(rf))
        .catch(() => {});
      await deliver(rf, "us-south");

      await waitFor("alice's two live events", () => a.messages.length >= 3);
      const lines = a.messages.flatMap((m) => (m.kind === "line" ? [m.line] : []));
      expect(lines.map((l) => l.event.correlationId)).toEqual([ra, rf]);
      await waitFor("the failure", () => failures.messages.length >= 2);
      expect(
        failures.messages.slice(1).map((m) => m.kind === "line" && m.line.event.outcome),
      ).toEqual(["failure"]);
      expect(a.errors).toEqual([]);
    } finally {
      a.unsubscribe();
      failures.unsubscribe();
    }
  });

  it("limits an account's open tails on a server, with a clear error, and frees closed ones", async () => {
    // Accounts of their own: the tails of the other tests may still be closing.
    const carol = await createAccount(t.db, { name: "carol", userName: "carol@example.com" });
    const dave = await createAccount(t.db, { name: "dave", userName: "dave@example.com" });
    const open = Array.from({ length: 10 }, () => tail(client(carol), {}));
    try {
      await waitFor("ten tails ready", () => open.every((o) => o.messages.length > 0));
      const over = tail(client(carol), {});
      try {
        await waitFor("the eleventh tail's error", () => over.errors.length > 0);
        expect((over.errors[0] as Error).message).toBe(
          "too many open live tails for this account (at most 10): close one first",
        );
        expect(errorInfo(over.errors[0] as never).code).toBe("TOO_MANY_REQUESTS");
      } finally {
        over.unsubscribe();
      }
      // Another account is not held back by carol's tails.
      const other = tail(client(dave), {});
      try {
        await waitFor("dave's tail ready", () => other.messages.length > 0);
        expect(other.errors).toEqual([]);
      } finally {
        other.unsubscribe();
      }
      expect(open.flatMap((o) => o.errors)).toEqual([]);
    } finally {
      for (const o of open) o.unsubscribe();
    }
    // Closed tails free their places (once the server has seen them go).
    let again: ReturnType<typeof tail> | undefined;
    await waitFor("a tail after the others closed", () => {
      if (again?.messages.length) return true;
      if (!again || again.errors.length > 0) {
        again?.unsubscribe();
        again = tail(client(carol), {});
      }
      return false;
    });
    again!.unsubscribe();
  });

  it("fails a subscription with the tracker's reason", async () => {
    const none = tail(await serverWith({}), {});
    try {
      await waitFor("the error", () => none.errors.length > 0);
      expect((none.errors[0] as Error).message).toMatch(/no tracker configured/);
    } finally {
      none.unsubscribe();
    }
    const anonymous = tail(client(undefined), {});
    try {
      await waitFor("the error", () => anonymous.errors.length > 0);
      expect((anonymous.errors[0] as Error).message).toMatch(/API key is required/);
    } finally {
      anonymous.unsubscribe();
    }
  });
});
