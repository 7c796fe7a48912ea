/**
 * graphile-worker, the peer the delivery benchmark compares Berth's outbox worker with:
 * `jobs` no-op jobs queued, then processed with its documented high-throughput settings.
 */
import { until } from "./processes";

export interface GraphilePeerRun {
  queuedMs: number;
  /** From the runner's start until every job succeeded. */
  runMs: number;
}

export async function runGraphilePeer(
  connectionString: string,
  jobs: number,
  opts: { timeoutMs?: number; onQueued?: (ms: number) => void } = {},
): Promise<GraphilePeerRun> {
  // Loaded only when run: `pnpm bench:delivery --skip-graphile` never needs it.
  const { Logger, makeWorkerUtils, run } = await import("graphile-worker");
  // Its default logger prints a line per job, which would measure the terminal.
  const quiet = new Logger(() => () => {});
  const utils = await makeWorkerUtils({ connectionString, logger: quiet });
  await utils.migrate();
  const t0 = performance.now();
  for (let i = 0; i < jobs; i += 5000) {
    await utils.addJobs(
      Array.from({ length: Math.min(5000, jobs - i) }, (_, j) => ({
        identifier: "noop",
        payload: { i: i + j },
      })),
    );
  }
  const queuedMs = performance.now() - t0;
  opts.onQueued?.(queuedMs);
  await utils.release();
  let done = 0;
  const start = performance.now();
  // Its documented high-throughput settings: a local queue (batched fetch) and batched
  // completion, with plenty of concurrency for no-op jobs.
  const runner = await run({
    connectionString,
    noHandleSignals: true,
    taskList: { noop: async () => {} },
    logger: quiet,
    preset: {
      worker: {
        concurrentJobs: 24,
        maxPoolSize: 26,
        pollInterval: 1000,
        localQueue: { size: 500 },
        completeJobBatchDelay: 0,
      },
    },
  });
  runner.events.on("job:success", () => {
    done++;
  });
  try {
    await until(
      "graphile-worker to finish",
      () => (done >= jobs ? true : undefined),
      opts.timeoutMs ?? 15 * 60_000,
    );
    return { queuedMs, runMs: performance.now() - start };
  } finally {
    await runner.stop();
  }
}
