import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface Service {
  name: string;
  /** Entry file relative to the repository's apps/ folder, e.g. "server/src/main.ts". */
  entry: string;
  env: Record<string, string>;
  /** URL answering GET /readyz with 200 once the service is ready. */
  readyUrl: string;
}

export interface Running {
  service: Service;
  child: ChildProcess;
}

const APPS_DIR = fileURLToPath(new URL("../../", import.meta.url));

/** Each service is its own process, as in production: one crashing does not take the others. */
export function spawnService(service: Service, onExit: (code: number | null) => void): Running {
  // Plain node with tsx's loader: no wrapper process between us and the service's signals.
  const child = spawn(process.execPath, ["--import", "tsx", `${APPS_DIR}${service.entry}`], {
    env: { ...process.env, ...service.env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  child.on("exit", onExit);
  return { service, child };
}

// Bounded, but for a machine busy enough to take minutes to compile and start a service.
export async function waitReady(r: Running, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (r.child.exitCode !== null)
      throw new Error(`${r.service.name} exited with code ${r.child.exitCode}`);
    try {
      const res = await fetch(r.service.readyUrl, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(
    `${r.service.name} was not ready at ${r.service.readyUrl} within ${timeoutMs} ms`,
  );
}

/** SIGTERM, then SIGKILL for anything still alive after the grace period. */
export async function stopAll(running: Running[], graceMs = 10_000): Promise<void> {
  await Promise.all(
    running.map(
      ({ child }) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
          child.once("exit", () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill("SIGTERM");
        }),
    ),
  );
}
