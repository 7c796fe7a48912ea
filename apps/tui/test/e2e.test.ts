import { execFile, execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BERTH, loggedInHome } from "./cli";
import { type Stack, startStack, until } from "./stack";

// The built binary in a real terminal (tmux): log in, create a namespace in the app, watch
// its event arrive in the events screen through server → outbox → worker → tracker, quit.

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../..", import.meta.url));
const SOCKET = `berth-e2e-${process.pid}`;
const SESSION = "berth";

function tmuxInstalled(): boolean {
  try {
    execFileSync("tmux", ["-V"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function tmux(...args: string[]): Promise<string> {
  const { stdout } = await run("tmux", ["-L", SOCKET, ...args]);
  return stdout;
}

async function waitScreen(text: string | RegExp, ms = 30_000, session = SESSION): Promise<string> {
  let last = "";
  await until(
    async () => {
      last = await tmux("capture-pane", "-p", "-t", session).catch(() => "");
      return typeof text === "string" ? last.includes(text) : text.test(last);
    },
    () => `${String(text)} on the screen of tmux session ${session}:\n${last}`,
    ms,
  );
  return last;
}

/**
 * Runs `command` in a new 100x30 tmux session as a person at a terminal would: Ink renders
 * only the last frame when it sees CI set (as on the CI machine), and a person is not in CI.
 * The shell keeps the pane after berth exits, so a crash leaves its output (and the exit
 * code) on the screen for the failure message instead of a blank, closed session.
 */
async function inTerminal(session: string, command: string[], cwd?: string): Promise<void> {
  const line = [
    "env",
    "-u",
    "CI",
    `HOME=${env.HOME}`,
    `BERTH_CONFIG=${env.BERTH_CONFIG}`,
    "TERM=xterm-256color",
    ...command,
  ].join(" ");
  await tmux(
    "new-session",
    "-d",
    "-s",
    session,
    "-x",
    "100",
    "-y",
    "30",
    ...(cwd ? ["-c", cwd] : []),
    `${line}; echo "[berth exited with $?]"; sleep 120`,
  );
}

let stack: Stack;
let env: Record<string, string>;

beforeAll(async () => {
  if (!tmuxInstalled()) {
    throw new Error("the end-to-end test needs tmux: apt-get install tmux");
  }
  stack = await startStack();
  env = await loggedInHome(stack.url, stack.alice.apiKey);
}, 180_000);

afterAll(async () => {
  await tmux("kill-server").catch(() => {});
  await stack?.stop();
});

describe("berth in a terminal", () => {
  it("creates a namespace, sees its event arrive live, and quits", async () => {
    await inTerminal(SESSION, [process.execPath, BERTH]);

    const home = await waitScreen("alice@example.com");
    expect(home).toContain("region us-south");
    expect(home).not.toContain(stack.alice.apiKey);
    await waitScreen("No namespaces yet");

    await tmux("send-keys", "-t", SESSION, "n");
    await waitScreen("New namespace");
    await tmux("send-keys", "-t", SESSION, "-l", "e2e-birds");
    await waitScreen("e2e-birds");
    await tmux("send-keys", "-t", SESSION, "Enter");
    await waitScreen("✓ Namespace e2e-birds created in us-south");

    await tmux("send-keys", "-t", SESSION, "6");
    await waitScreen("● live");
    const events = await waitScreen(/namespace\.create\s+success\s+e2e-birds/);
    expect(events).toContain("Events in us-south");
    // Every line fits the 100-column terminal.
    for (const line of events.split("\n")) expect(line.length).toBeLessThanOrEqual(100);

    await tmux("send-keys", "-t", SESSION, "Enter");
    // The newest event's JSON (the list the app reloaded after creating is newer).
    await waitScreen(/"action": "container-registry\.namespace\.(list|create)"/);
    await tmux("send-keys", "-t", SESSION, "Escape");
    await waitScreen(/namespace\.create\s+success\s+e2e-birds/);

    await tmux("send-keys", "-t", SESSION, "q");
    await waitScreen("[berth exited with 0]");
  });

  it("opens from the repository root with `pnpm berth`, as the README says", async () => {
    // The README's own command, from the root (no tsconfig there sets the JSX runtime): not
    // the built bundle. The verbs first, then the interactive app in a terminal.
    const pnpm = (...args: string[]) =>
      run("pnpm", ["--silent", "berth", ...args], {
        cwd: ROOT,
        env: { ...process.env, ...env, CI: "" },
        timeout: 120_000,
      });
    const help = await pnpm("--help");
    expect(help.stdout).toContain("examples:");
    const added = await pnpm("namespace-add", "root-birds");
    expect(added.stdout).toContain("Namespace root-birds added in region us-south.");
    expect((await pnpm("image-list")).stdout).toMatch(/^REPOSITORY\s+TAG/);

    const session = "root";
    await inTerminal(session, ["pnpm", "berth"], ROOT);
    // Each `pnpm berth` compiles the sources with tsx: slow on a busy machine.
    const screen = (text: string) => waitScreen(text, 90_000, session);
    const home = await screen("alice@example.com");
    expect(home).not.toContain("React is not defined");
    await screen("root-birds");
    await tmux("send-keys", "-t", session, "q");
    await screen("[berth exited with 0]");
  }, 420_000);
});
