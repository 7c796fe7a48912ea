import { createBerthClient } from "@berth/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loggedInHome, spawnBerth } from "./cli";
import { type Stack, startStack, until } from "./stack";

// `berth events --follow` (the built binary, its own process) while the tracker process is
// stopped and started again: the tail reconnects by itself, resumes after the last event it
// printed, and prints every event exactly once, those made while the tracker was down too.

let stack: Stack;
let env: Record<string, string>;

beforeAll(async () => {
  stack = await startStack();
  env = await loggedInHome(stack.url, stack.alice.apiKey);
}, 180_000);
afterAll(async () => stack?.stop());

describe("events --follow across a tracker restart", () => {
  it("reconnects, resumes, and prints every event exactly once", async () => {
    const tail = spawnBerth(
      ["events", "--follow", "--action", "namespace.create", "-o", "json"],
      env,
    );
    const names = () =>
      tail.out
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => (JSON.parse(l) as { event: { target: { name: string } } }).event.target.name);
    const seen = (wanted: string[]) => () => wanted.every((n) => names().includes(n));
    const client = createBerthClient({ url: stack.url, apiKey: stack.alice.apiKey });
    const create = async (prefix: string, n: number) => {
      const made = [];
      for (let i = 0; i < n; i++) {
        const name = `${prefix}-${i}`;
        await client.namespace.create.mutate({ name });
        made.push(name);
      }
      return made;
    };
    const status = () => `stdout:\n${tail.out}\nstderr:\n${tail.err}\n${stack.logs()}`;
    try {
      await until(() => tail.err.includes("following events of region us-south"), status, 60_000);
      const before = await create("before", 5);
      await until(seen(before), () => `the events before the restart: ${status()}`, 60_000);

      // The tracker goes away with the tail open; events made meanwhile wait in the outbox.
      const restarted = stack.restartTracker();
      const during = await create("during", 5);
      await restarted;
      const after = await create("after", 5);
      await until(seen([...during, ...after]), () => `every event: ${status()}`, 120_000);
      expect(tail.err).toMatch(/live tail cut \(.*\); reconnecting/);
      expect(tail.err).toContain("resumed following events of region us-south");

      // A last event, then the count: a repeat of an earlier one would have come before it.
      const [last] = await create("last", 1);
      await until(seen([last!]), () => `the last event: ${status()}`, 60_000);
      const all = [...before, ...during, ...after, last!];
      expect(names().sort()).toEqual([...all].sort());
    } finally {
      tail.child.kill("SIGINT");
    }
    expect(await tail.exited).toBe(0);
  }, 420_000);
});
