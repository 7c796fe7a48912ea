import { type BerthClient, createBerthClient } from "@berth/client";
import { allPages, DEFAULT_PAGE_SIZE } from "@berth/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/run";
import type { Io } from "../src/cli/types";
import { App } from "../src/ui/app";
import { berth } from "./cli";
import { KEY, renderSized } from "./ink";
import { aliceImage, type Stack, startStack } from "./stack";

// The list verbs follow the pages to the end and print each as it arrives; the list screens
// fetch the next page only when the selection nears the last row loaded.

let stack: Stack;
const client = (apiKey: string) => createBerthClient({ url: stack.url, apiKey });
const alice = () => client(stack.alice.apiKey);
const bob = () => client(stack.bob.apiKey);
let env: Record<string, string>;
const BOB_TOKENS = DEFAULT_PAGE_SIZE + 1;

beforeAll(async () => {
  stack = await startStack({ tracker: false, worker: false });
  env = { BERTH_URL: stack.url, BERTH_API_KEY: stack.alice.apiKey, HOME: "/nonexistent" };
  for (let i = 0; i < 7; i++) {
    await alice().namespace.create.mutate({ name: `page${i}` });
    await alice().registrytoken.create.mutate({ description: `alice ${i}` });
    await alice().exemption.create.mutate({
      scope: `page${i}`,
      issueType: "cve",
      issueId: `CVE-2021-000${i}`,
    });
    await aliceImage(stack, `page${i % 2}/app`, `t${i}`);
  }
  // One more than a page of the server's default size, made in order so their order is known.
  for (let i = 0; i < BOB_TOKENS; i++) {
    await bob().registrytoken.create.mutate({ description: `bob ${String(i).padStart(3, "0")}` });
  }
}, 300_000);
afterAll(async () => stack?.stop());

/** Run a verb in process, keeping each write to stdout apart. */
async function inProcess(args: string[], apiKey = stack.alice.apiKey) {
  const writes: string[] = [];
  let stderr = "";
  const io: Io = {
    stdout: { write: (t: string) => writes.push(t) },
    stderr: { write: (t: string) => (stderr += t) },
    stdin: process.stdin,
    env: { BERTH_URL: stack.url, BERTH_API_KEY: apiKey, BERTH_CONFIG: "/nonexistent/berth.json" },
  };
  const code = await runCli(args, io);
  return { code, writes, stdout: writes.join(""), stderr };
}

describe("the list verbs", () => {
  const verbs = [
    [
      "namespace-list",
      (c: BerthClient) => allPages((cursor) => c.namespace.list.query({ cursor })),
    ],
    [
      "token-list",
      (c: BerthClient) => allPages((cursor) => c.registrytoken.list.query({ cursor })),
    ],
    [
      "exemption-list",
      (c: BerthClient) => allPages((cursor) => c.exemption.list.query({ cursor })),
    ],
    ["image-list", (c: BerthClient) => allPages((cursor) => c.image.list.query({ cursor }))],
  ] as const;

  it.each(verbs)("%s prints every page, each as it arrives", async (verb, all) => {
    const items = await all(alice());
    expect(items).toHaveLength(7);
    const r = await inProcess([verb, "--page-size", "3"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // Pages of 3, 3 and 1: one write each, the header with the first.
    expect(r.writes).toHaveLength(3);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines).toHaveLength(1 + 7);
    expect(lines.filter((l) => /^(NAMESPACE|TOKEN ID|SCOPE|REPOSITORY)\s/.test(l))).toHaveLength(1);
    const json = await inProcess([verb, "--page-size", "2", "-o", "json"]);
    expect(json.writes.length).toBeGreaterThan(4);
    expect(JSON.parse(json.stdout)).toEqual(items);
    // The same text as the whole list printed at once.
    expect(json.stdout).toBe(`${JSON.stringify(items, null, 2)}\n`);
  });

  it("image-list -q prints the names of every page", async () => {
    const r = await inProcess(["image-list", "-q", "--page-size", "2"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trimEnd().split("\n")).toEqual([
      "page0/app:t0",
      "page0/app:t2",
      "page0/app:t4",
      "page0/app:t6",
      "page1/app:t1",
      "page1/app:t3",
      "page1/app:t5",
    ]);
  });

  it(`the built binary prints all ${BOB_TOKENS} tokens, more than the server's default page`, async () => {
    const r = await berth(["token-list", "-o", "json"], {
      ...env,
      BERTH_API_KEY: stack.bob.apiKey,
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const ids = r.json<{ id: string; description: string }[]>().map((t) => t.description);
    expect(ids).toEqual(
      Array.from({ length: BOB_TOKENS }, (_, i) => `bob ${String(i).padStart(3, "0")}`),
    );
    const table = await berth(["token-list"], { ...env, BERTH_API_KEY: stack.bob.apiKey });
    expect(table.stdout.trimEnd().split("\n")).toHaveLength(1 + BOB_TOKENS);
  });

  it("refuses a page size out of range as bad usage", async () => {
    for (const size of ["0", "1001", "x", "-1"]) {
      const r = await inProcess(["namespace-list", "--page-size", size]);
      expect(r.code, size).toBe(2);
      expect(r.stderr).toMatch(/--page-size/);
    }
  });
});

describe("the list screens", () => {
  it("fetch the next page only when the selection nears the last row loaded", async () => {
    const calls: (string | undefined)[] = [];
    // The real client, with its token list counted.
    const connect = (url: string, apiKey: string | undefined): BerthClient => {
      const real = createBerthClient({ url, ...(apiKey ? { apiKey } : {}) });
      const list = (input: { cursor?: string; limit?: number } | undefined) => {
        calls.push(input?.cursor);
        return real.registrytoken.list.query(input);
      };
      return new Proxy(real, {
        get: (target, prop) =>
          prop === "registrytoken"
            ? new Proxy(target.registrytoken, {
                get: (t, p) => (p === "list" ? { query: list } : t[p as keyof typeof t]),
              })
            : target[prop as keyof BerthClient],
      });
    };
    const pageSize = 20;
    const s = renderSized(
      <App
        connection={{ url: stack.url, apiKey: stack.bob.apiKey }}
        regions={{ "us-south": stack.url }}
        interactive
        connect={connect}
        initialScreen="tokens"
        pageSize={pageSize}
      />,
      100,
      16,
    );
    try {
      await s.waitFor("bob 000");
      // Let the screen settle: the first page fills more than the screen, so nothing more comes.
      await s.press(KEY.up);
      expect(calls).toEqual([undefined]);
      expect(s.frame()).not.toContain(`bob ${String(pageSize).padStart(3, "0")}`);
      let presses = 0;
      while (calls.length < 2) {
        await s.press(KEY.down);
        presses++;
        expect(presses, "presses before the second page is fetched").toBeLessThan(pageSize);
      }
      // Not at once: only once the selection came near the end of the first page.
      expect(presses).toBeGreaterThan(pageSize / 2);
      expect(calls[1]).toEqual(expect.any(String));
      // Scrolling on shows the second page's rows.
      for (let i = presses; i <= pageSize; i++) await s.press(KEY.down);
      await s.waitFor(`bob ${String(pageSize).padStart(3, "0")}`);
      // The second page reaches past the selection by more than a screen: no third yet.
      expect(calls, JSON.stringify(calls) + s.frame()).toHaveLength(2);
    } finally {
      s.unmount();
    }
  });
});
