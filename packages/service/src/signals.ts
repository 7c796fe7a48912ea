// How a Berth process is told to stop. Alone, SIGINT (Ctrl-C) and SIGTERM both stop it. Under
// `pnpm start` (BERTH_SUPERVISED=1) the terminal's Ctrl-C reaches every process of the job at
// once, which would let the tracker close while the worker is still delivering to it: there a
// service leaves SIGINT to its launcher, which stops the services in order with SIGTERM
// (producers, then the worker, then the tracker), and stops itself if the launcher is gone.

const PARENT_CHECK_MS = 1000;

export function onStopSignals(
  stop: (reason: string) => void,
  env: Record<string, string | undefined> = process.env,
): void {
  process.on("SIGTERM", () => stop("SIGTERM"));
  if (env.BERTH_SUPERVISED !== "1") {
    process.on("SIGINT", () => stop("SIGINT"));
    return;
  }
  // A handler, not the default: the default for SIGINT ends the process at once.
  process.on("SIGINT", () => {});
  const launcher = process.ppid;
  // A launcher killed outright cannot stop its services; they are reparented and see it.
  setInterval(() => {
    if (process.ppid !== launcher) stop("launcher exited");
  }, PARENT_CHECK_MS).unref();
}
