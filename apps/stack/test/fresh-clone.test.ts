import { execFileSync } from "node:child_process";
import { lstatSync, mkdtempSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  cleanEnv,
  type Launched,
  launch,
  postmasterPid,
  waitForSummary,
  waitGroupGone,
} from "./launch";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const isRoot = process.getuid?.() === 0;

/**
 * The README's first contact, on the committed state of this repository: cloned into a
 * folder only its owner may enter (as root's home is on most servers and containers), then
 * `pnpm install` and `pnpm start`. As root, Postgres runs as the postgres user, which can
 * reach neither the checkout's data directory nor the binaries in its node_modules.
 */
describe("a fresh clone in a mode-700 folder", () => {
  const parent = mkdtempSync(join(tmpdir(), "berth-clone-"));
  const checkout = join(parent, "berth");
  let started: Launched | undefined;
  let cluster: string | undefined;
  afterAll(() => {
    started?.kill();
    if (cluster?.startsWith("/var/lib/berth/")) rmSync(cluster, { recursive: true, force: true });
    rmSync(parent, { recursive: true, force: true });
  });

  it("installs, starts (ready), and stops on Ctrl-C with exit 0", async () => {
    expect(statSync(parent).mode & 0o777, "mkdtemp makes a mode-700 folder").toBe(0o700);
    execFileSync("git", ["clone", "--quiet", REPO, checkout], { stdio: "pipe" });
    // The store already holds every package; nothing else differs from the README's step.
    execFileSync("pnpm", ["install", "--frozen-lockfile", "--prefer-offline"], {
      cwd: checkout,
      env: cleanEnv({}),
      stdio: "pipe",
      timeout: 600_000,
    });

    // Ports 0, from the optional .env: the launcher reads it, chooses free ports and prints
    // them (other stacks may run on this machine's default ports).
    writeFileSync(join(checkout, ".env"), "BERTH_PORT=0\nBERTH_TRACKER_PORT=0\n");
    started = launch(checkout, cleanEnv({}), join(checkout, ".berth", "pg"));
    await waitForSummary(started);
    const out = started.output();
    const link = join(checkout, ".berth", "pg");
    if (isRoot) {
      expect(lstatSync(link).isSymbolicLink(), out).toBe(true);
      cluster = readlinkSync(link);
      expect(cluster).toMatch(/^\/var\/lib\/berth\/[0-9a-f]{16}$/);
      const line = out.split("\n").find((l) => l.startsWith("postgres "));
      expect(line, out).toContain(
        `data in ${cluster}, linked from .berth/pg: the postgres user cannot enter ${parent}`,
      );
      expect(statSync(parent).mode & 0o777, "the folder's mode is left alone").toBe(0o700);
    }
    for (const label of ["registry", "tracker", "worker"]) {
      const res = await fetch(`${started.url(label)}/readyz`, {
        signal: AbortSignal.timeout(10_000),
      });
      expect(res.status, `${label} /readyz`).toBe(200);
    }
    expect(out).toMatch(/^api key\s+berth_ak_/m);

    const code = await started.interrupt();
    expect(code, started.output()).toBe(0);
    expect(started.output()).not.toContain("ELIFECYCLE");
    expect(await waitGroupGone(started.child.pid!), "processes left running").toEqual([]);
    expect(postmasterPid(join(checkout, ".berth", "pg")), "Postgres left running").toBeUndefined();
  }, 900_000);
});
