import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const EMBEDDED = fileURLToPath(new URL("../src/embedded.ts", import.meta.url));

describe("a process that started the embedded Postgres", () => {
  it("keeps its own exit code (a failed test run must not exit 0)", () => {
    const dir = mkdtempSync(join(tmpdir(), "berth-exit-"));
    chmodSync(dir, 0o755);
    const script = join(dir, "run.mts");
    writeFileSync(
      script,
      `import { startEmbeddedPostgres } from ${JSON.stringify(EMBEDDED)};
const pg = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(join(dir, "data"))}, persistent: false });
await pg.stop();
process.exitCode = 3;
`,
    );
    const r = spawnSync(process.execPath, ["--import", "tsx", script], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.status).toBe(3);
  });
});
