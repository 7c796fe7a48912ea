import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBerthClient } from "@berth/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BERTH, berth } from "./cli";
import { type Stack, startStack, until } from "./stack";

// `berth events --follow` (the built binary, its own process) while the tracker process is
// stopped and started again: the tail reconnects by itself, resumes after the last event it
// printed, and prints every event exactly once, those made while the tracker was down too.

let stack: Stack;
let env: Record<string, string>;

beforeAll(async () => {
  stack = await startStack();
  const home = mkdtempSync(join(tmpdir(), "berth-follow-"));
  env = { HOME: home, BERTH_CONFIG: join(home, "config.json") };
  const login = await berth(["login", "--url", stack.url, "--api-key", stack.alice.apiKey], env);
  expect(login.code, login.stderr).toBe(0);
}, 180_000);
afterAll(async () => stack?.stop());

describe("events --follow across a tracker restart", () => {
  it("reconnects, resumes, and prints every event exactly once", async () => {
    const child = spawn(
      process.execPath,
      [BERTH, "events", "--follow", "--action", "namespace.create", "-o", "json"],
      { env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      err += c.toString();
    });
    const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    const names = () =>
      out
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
    const status = () => `stdout:\n${out}\nstderr:\n${err}\n${stack.logs()}`;
    try {
      await until(() => err.includes("following events of region us-south"), status, 60_000);
      const before = await create("before", 5);
      await until(seen(before), () => `the events before the restart: ${status()}`, 60_000);

      // The tracker goes away with the tail open; events made meanwhile wait in the outbox.
      const restarted = stack.restartTracker();
      const during = await create("during", 5);
      await restarted;
      const after = await create("after", 5);
      await until(seen([...during, ...after]), () => `every event: ${status()}`, 120_000);
      expect(err).toMatch(/live tail cut \(.*\); reconnecting/);
      expect(err).toContain("resumed following events of region us-south");

      // A last event, then the count: a repeat of an earlier one would have come before it.
      const [last] = await create("last", 1);
      await until(seen([last!]), () => `the last event: ${status()}`, 60_000);
      const all = [...before, ...during, ...after, last!];
      expect(names().sort()).toEqual([...all].sort());
    } finally {
      child.kill("SIGINT");
    }
    expect(await exited).toBe(0);
  }, 420_000);
});
