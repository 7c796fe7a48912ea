import { chmodSync, lstatSync, mkdtempSync, readlinkSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort } from "@berth/db";
import { afterAll, describe, expect, it } from "vitest";
import { cleanEnv, type Launched, launch, waitForSummary, waitGroupGone } from "./launch";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));

/** A port p with p + 1 free too: the tracker's, the worker's following it. */
async function freePair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p >= 65_535) continue;
    const next = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(p + 1, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (next) return p;
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
    for (const s of stacks) {
      launched.push(
        launch(
          REPO,
          cleanEnv({
            BERTH_DATA_DIR: s.dataDir,
            BERTH_PORT: String(s.port),
            BERTH_TRACKER_PORT: String(s.tracker),
          }),
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
      expect(l.output(), "each stack has its own embedded cluster").toContain(
        `data in ${join(s.dataDir, "pg")}`,
      );
    }

    // Ctrl-C, as a terminal sends it: to every process of the foreground job.
    const codes = await Promise.all(launched.map((l) => l.interrupt()));
    for (const [i, l] of launched.entries()) {
      const after = l.output().slice(l.output().indexOf("SIGINT"));
      expect(codes[i], l.output()).toBe(0);
      expect(l.output()).not.toContain("ELIFECYCLE");
      expect(after, "nothing alarming while stopping").not.toMatch(/error|fail|warn/i);
      expect(await waitGroupGone(l.child.pid!), "processes left running").toEqual([]);
    }
  }, 600_000);
});
