import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase } from "@berth/db/testing";
import { resolveApiKey } from "@berth/registry";
import { describe, expect, it } from "vitest";
import { forFile } from "./helpers";

// The process entry points, run as real processes against a test database.

const root = fileURLToPath(new URL("..", import.meta.url));
const tsx = join(root, "node_modules", ".bin", "tsx");
const t = await forFile(createTestDatabase());

interface Run {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exit: Promise<number | null>;
}

function run(script: string, args: string[], env: Record<string, string>): Run {
  const child = spawn(tsx, [join("src", script), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const stdout: string[] = [];
  const stderr: string[] = [];
  child.stdout!.on("data", (d) => stdout.push(String(d)));
  child.stderr!.on("data", (d) => stderr.push(String(d)));
  const exit = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stdout, stderr, exit };
}

// Generous: a server process starting under tsx on a loaded 2-core machine can take tens of
// seconds to print its first line.
async function until<T>(what: string, probe: () => T | undefined, ms = 150_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("admin CLI", () => {
  it("creates an account and prints its API key once", async () => {
    const r = run("admin.ts", ["create-account", "--name", "Acme", "--user", "ops@acme.test"], {
      DATABASE_URL: t.url,
    });
    expect(await r.exit).toBe(0);
    const out = r.stdout.join("");
    const key = /API key\s+(\S+)/.exec(out)?.[1];
    expect(key).toMatch(/^berth_ak_/);
    const principal = await resolveApiKey(t.db, key!);
    expect(principal?.account.name).toBe("Acme");
    expect(principal?.user.name).toBe("ops@acme.test");
  });

  it("explains its usage when the command is missing", async () => {
    const r = run("admin.ts", [], { DATABASE_URL: t.url });
    expect(await r.exit).toBe(2);
    expect(r.stderr.join("")).toMatch(/create-account --name/);
  });
});

describe("server process", () => {
  it("starts from the environment, serves, and stops cleanly on SIGTERM", async () => {
    const r = run("main.ts", [], {
      DATABASE_URL: t.url,
      BERTH_DATA_DIR: mkdtempSync(join(tmpdir(), "berth-main-")),
      BERTH_REGIONS: "us-south=0",
      BERTH_LOG_LEVEL: "info",
    });
    try {
      const url = await until("the listening line", () => {
        const m = /listening on (http:\/\/[0-9.:]+)/.exec(r.stdout.join(""));
        return m?.[1];
      }).catch((e: Error) => {
        throw new Error(`${e.message}; stderr: ${r.stderr.join("").slice(-2000)}`);
      });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      r.child.kill("SIGTERM");
      expect(await r.exit).toBe(0);
      expect(r.stdout.join("")).toMatch(/"msg":"stopped"/);
    } finally {
      if (r.child.exitCode === null) r.child.kill("SIGKILL");
    }
  }, 240_000);

  it("refuses a bad configuration, naming the variable", async () => {
    const r = run("main.ts", [], { DATABASE_URL: t.url, BERTH_PORT: "not-a-port" });
    expect(await r.exit).toBe(1);
    expect(r.stderr.join("")).toMatch(/BERTH_PORT/);
  });
});
