import { type ChildProcess, spawn } from "node:child_process";
import cluster from "node:cluster";
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

/**
 * `count` processes of one service that share its listening ports (node's cluster module,
 * this launcher being the primary): the kernel's socket is the primary's, which hands each
 * new connection to the next process in turn, as a load balancer would. The first is
 * started alone and waited for (it migrates the database and may create the data
 * directory's token key), then the others together.
 */
export async function forkService(
  service: Service,
  count: number,
  onExit: (code: number | null) => void,
  started: Running[],
): Promise<void> {
  cluster.setupPrimary({
    exec: `${APPS_DIR}${service.entry}`,
    execArgv: ["--import", "tsx"],
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  const fork = () => {
    const worker = cluster.fork({ ...process.env, ...service.env });
    worker.process.on("exit", onExit);
    started.push({ service, child: worker.process });
    return worker;
  };
  const first = fork();
  await waitReady({ service, child: first.process });
  // The shared port answers from any of them: each of the others is ready once it listens.
  await Promise.all(
    Array.from({ length: count - 1 }, fork).map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`${service.name} process ${worker.process.pid} did not listen`)),
            180_000,
          );
          worker.once("listening", () => {
            clearTimeout(timer);
            resolve();
          });
          worker.once("exit", (code) => {
            clearTimeout(timer);
            reject(new Error(`${service.name} exited with code ${code}`));
          });
        }),
    ),
  );
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

/**
 * Stop the services stage by stage in `order` (by name; any other service last): each stage
 * is SIGTERM, then SIGKILL for anything still alive after the grace period. In order, so a
 * consumer outlives its producers and a receiver its sender: the worker finishes the batch
 * it is delivering before the tracker closes.
 */
export async function stopAll(
  running: Running[],
  order: string[] = [],
  graceMs = 10_000,
): Promise<void> {
  const stage = (r: Running) => {
    const i = order.indexOf(r.service.name);
    return i === -1 ? order.length : i;
  };
  for (let i = 0; i <= order.length; i++) {
    await Promise.all(
      running.filter((r) => stage(r) === i).map(({ child }) => stopChild(child, graceMs)),
    );
  }
}

function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
