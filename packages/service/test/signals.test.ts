import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const started: ChildProcess[] = [];
const stray: number[] = [];

function run(name: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, ["--import", "tsx", fixture(name)], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  started.push(child);
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, output: () => out, exited };
}

async function until(what: string, check: () => boolean, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

afterEach(() => {
  for (const c of started.splice(0)) c.kill("SIGKILL");
  for (const pid of stray.splice(0)) if (alive(pid)) process.kill(pid, "SIGKILL");
});

describe("onStopSignals", () => {
  it("alone, stops on Ctrl-C", async () => {
    const s = run("supervised.ts");
    await until("ready", () => s.output().includes("ready"));
    s.child.kill("SIGINT");
    expect(await s.exited, s.output()).toBe(0);
    expect(s.output()).toContain("stopped: SIGINT");
  }, 90_000);

  it("under a launcher, leaves Ctrl-C to it and stops on its SIGTERM", async () => {
    const s = run("supervised.ts", { BERTH_SUPERVISED: "1" });
    await until("ready", () => s.output().includes("ready"));
    s.child.kill("SIGINT");
    await new Promise((r) => setTimeout(r, 1500));
    expect(s.child.exitCode, `a supervised service stopped on SIGINT: ${s.output()}`).toBeNull();
    s.child.kill("SIGTERM");
    expect(await s.exited, s.output()).toBe(0);
    expect(s.output()).toContain("stopped: SIGTERM");
  }, 90_000);

  it("under a launcher that is killed outright, stops by itself", async () => {
    const l = run("launcher.ts");
    await until("the service ready", () => l.output().includes("ready"));
    const pid = Number(/child (\d+)/.exec(l.output())![1]);
    stray.push(pid);
    l.child.kill("SIGKILL");
    await until(`service ${pid} to stop after its launcher was killed`, () => !alive(pid), 30_000);
  }, 90_000);
});
