import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "@berth/db";

export interface ReferenceRegistry {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** Its process id, to read the CPU it spends. */
  pid: number;
  /** Stops it and removes its storage. */
  close(): Promise<void>;
}

/**
 * The reference registry (`docker-registry serve`, the distribution project's, from the
 * Debian package), on 127.0.0.1 with filesystem storage in a temporary folder and no auth,
 * to answer the same requests as Berth side by side (the OCI tests and `bench:*`).
 * `deletes` turns on its manifest and blob DELETE (off by default, as in its own default).
 * Its output (it logs every 404 of a HEAD as an error) is shown only if it fails to start.
 */
export async function startReferenceRegistry(
  opts: { deletes?: boolean } = {},
): Promise<ReferenceRegistry> {
  const dir = mkdtempSync(join(tmpdir(), "berth-reference-"));
  const root = join(dir, "storage");
  mkdirSync(root);
  const port = await freePort();
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: error",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${root}`,
      ...(opts.deletes ? ["  delete:", "    enabled: true"] : []),
      "http:",
      `  addr: 127.0.0.1:${port}`,
      "",
    ].join("\n"),
  );
  let stderr = "";
  let failed: Error | undefined;
  const child = spawn("docker-registry", ["serve", config], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  child.once("error", (e) => {
    failed = e;
  });
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("close", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const close = async () => {
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    rmSync(dir, { recursive: true, force: true });
  };
  // Bounded polling: it answers /v2/ once it listens.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ok = await fetch(`${url}/v2/`).then(
      (r) => r.status === 200,
      () => false, // not listening yet
    );
    if (ok) break;
    if (failed || child.exitCode !== null || Date.now() > deadline) {
      await close();
      if ((failed as NodeJS.ErrnoException | undefined)?.code === "ENOENT") {
        throw new Error("docker-registry is required: apt-get install docker-registry");
      }
      throw new Error(
        `docker-registry did not start on ${url}: ${failed?.message ?? ""}\n${stderr}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, pid: child.pid!, close };
}
