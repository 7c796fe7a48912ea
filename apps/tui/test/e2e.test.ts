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

const capture = () => tmux("capture-pane", "-p", "-t", SESSION).catch(() => "");

async function waitScreen(text: string | RegExp, ms = 30_000): Promise<string> {
  let last = "";
  await until(
    async () => {
      last = await capture();
      return typeof text === "string" ? last.includes(text) : text.test(last);
    },
    () => `${String(text)} on the screen:\n${last}`,
    ms,
  );
  return last;
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
    const command = [
      // Ink renders only the last frame when it sees CI set (as on the CI machine); a person
      // at a terminal is not in CI.
      "env",
      "-u",
      "CI",
      `HOME=${env.HOME}`,
      `BERTH_CONFIG=${env.BERTH_CONFIG}`,
      "TERM=xterm-256color",
      process.execPath,
      BERTH,
    ].join(" ");
    // The shell keeps the pane after berth exits, so a crash leaves its output (and the exit
    // code) on the screen for the failure message instead of a blank, closed session.
    const shell = `${command}; echo "[berth exited with $?]"; sleep 120`;
    await tmux("new-session", "-d", "-s", SESSION, "-x", "100", "-y", "30", shell);

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
    const command = [
      "cd",
      ROOT,
      "&&",
      "env",
      "-u",
      "CI",
      `HOME=${env.HOME}`,
      `BERTH_CONFIG=${env.BERTH_CONFIG}`,
      "TERM=xterm-256color",
      "pnpm",
      "berth",
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
      `${command}; echo "[berth exited with $?]"; sleep 120`,
    );
    const screen = async (text: string) => {
      let last = "";
      await until(
        async () => {
          last = await tmux("capture-pane", "-p", "-t", session).catch(() => "");
          return last.includes(text);
        },
        () => `${text} on the screen of pnpm berth:\n${last}`,
        90_000,
      );
      return last;
    };
    const home = await screen("alice@example.com");
    expect(home).not.toContain("React is not defined");
    await screen("root-birds");
    await tmux("send-keys", "-t", session, "q");
    await screen("[berth exited with 0]");
    // Each `pnpm berth` compiles the sources with tsx: slow on a busy machine.
  }, 420_000);
});
