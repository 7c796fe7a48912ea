import { chmodSync, lstatSync, mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, portIsFree } from "@berth/db";
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

/** A port p with p + 1 free too: the tracker's, the worker's following it. */
async function freePair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p >= 65_535) continue;
    if (await portIsFree(p + 1)) return p;
  }
  throw new Error("no pair of free ports found");
}

async function ready(url: string): Promise<number> {
  const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(10_000) });
  return res.status;
}

describe("two stacks on one machine", () => {
  const dirs: string[] = [];
  const launched: Launched[] = [];
  afterAll(() => {
    for (const l of launched) l.kill();
    for (const d of dirs) {
      const link = join(d, "pg");
      if (lstatSync(link, { throwIfNoEntry: false })?.isSymbolicLink()) {
        rmSync(readlinkSync(link), { recursive: true, force: true });
      }
      rmSync(d, { recursive: true, force: true });
    }
  });

  it("each with its own BERTH_PORT and BERTH_TRACKER_PORT runs beside the other; Ctrl-C stops each with exit 0", async () => {
    const stacks = [];
    for (const name of ["a", "b"]) {
      const dir = mkdtempSync(join(tmpdir(), `berth-stack-${name}-`));
      // Open, so each cluster stays in its data directory (the mode-700 case has its own test).
      chmodSync(dir, 0o755);
      dirs.push(dir);
      // BERTH_WORKER_PORT unset: the worker's port must follow the tracker's, not be 7401.
      stacks.push({ port: await freePort(), tracker: await freePair(), dataDir: dir });
    }
    // The second stack is given its development key: it must never be printed in full.
    const givenKey = "berth_dev_given_key_0123456789abcdef";
    for (const [i, s] of stacks.entries()) {
      launched.push(
        launch(
          REPO,
          cleanEnv({
            BERTH_DATA_DIR: s.dataDir,
            BERTH_PORT: String(s.port),
            BERTH_TRACKER_PORT: String(s.tracker),
            ...(i === 1 ? { BERTH_DEV_API_KEY: givenKey } : {}),
          }),
          join(s.dataDir, "pg"),
        ),
      );
    }
    await Promise.all(launched.map((l) => waitForSummary(l)));

    for (const [i, s] of stacks.entries()) {
      const l = launched[i]!;
      expect(l.url("registry"), l.output()).toBe(`http://127.0.0.1:${s.port}`);
      expect(l.url("tracker"), l.output()).toBe(`http://127.0.0.1:${s.tracker}`);
      expect(l.url("worker"), l.output()).toBe(`http://127.0.0.1:${s.tracker + 1}`);
      for (const label of ["registry", "tracker", "worker"]) {
        expect(await ready(l.url(label)), `${label} of stack ${i}`).toBe(200);
      }
      expect(l.output(), "a given key is shown masked").not.toContain(givenKey);
      expect(l.output(), "each stack has its own embedded cluster").toContain(
        `data in ${join(s.dataDir, "pg")}`,
      );
    }

    // The second stack is busy when Ctrl-C comes: audited calls (events for the worker to
    // deliver and the tracker to log) keep arriving. Bounded: 4 × 300 calls at most.
    let busy = true;
    let answered = 0;
    const registry = launched[1]!.url("registry");
    const callers = Array.from({ length: 4 }, async () => {
      for (let n = 0; n < 300 && busy; n++) {
        try {
          const res = await fetch(`${registry}/trpc/namespace.list`, {
            headers: { "x-api-key": givenKey },
            signal: AbortSignal.timeout(10_000),
          });
          if (res.ok) answered++;
        } catch {
          // refused once the server is stopping
        }
      }
    });
    const deadline = Date.now() + 120_000;
    while (answered < 40 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(answered, "calls answered before Ctrl-C").toBeGreaterThanOrEqual(40);

    // Ctrl-C, as a terminal sends it: to every process of the foreground job.
    const codes = await Promise.all(launched.map((l) => l.interrupt()));
    busy = false;
    await Promise.all(callers);
    for (const [i, l] of launched.entries()) {
      const after = l.output().slice(l.output().indexOf("SIGINT"));
      expect(codes[i], l.output()).toBe(0);
      expect(l.output()).not.toContain("ELIFECYCLE");
      expect(after, "nothing alarming while stopping").not.toMatch(/error|fail|warn/i);
      expect(await waitGroupGone(l.child.pid!), "processes left running").toEqual([]);
      // Postgres (a group of its own) was stopped too, cleanly: it removes its pid file.
      expect(
        postmasterPid(join(stacks[i]!.dataDir, "pg")),
        "Postgres left running",
      ).toBeUndefined();
    }
  }, 600_000);
});
