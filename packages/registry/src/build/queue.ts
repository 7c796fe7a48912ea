import { buildLimits } from "./limits";

/*
 * Builds take CPU (unpacking, layer compression) and memory (the context and layers): a
 * process runs `concurrentBuilds` at once, `concurrentBuildsPerAccount` of one account, and
 * the others wait in line, first come first served, each told that it is queued. One account
 * filling the line cannot hold another's build behind its own: a waiting build starts as
 * soon as both its account and the process have room.
 */

interface Waiter {
  account: string;
  start: () => void;
}

const running = new Map<string, number>();
let total = 0;
const waiting: Waiter[] = [];

function hasRoom(account: string): boolean {
  const limits = buildLimits();
  return (
    total < limits.concurrentBuilds &&
    (running.get(account) ?? 0) < limits.concurrentBuildsPerAccount
  );
}

function take(account: string): void {
  total++;
  running.set(account, (running.get(account) ?? 0) + 1);
}

function release(account: string): void {
  total--;
  const left = (running.get(account) ?? 1) - 1;
  if (left === 0) running.delete(account);
  else running.set(account, left);
  for (let i = 0; i < waiting.length; ) {
    const next = waiting[i]!;
    if (hasRoom(next.account)) {
      waiting.splice(i, 1);
      take(next.account);
      next.start();
    } else i++;
  }
}

/** Where the line stands, for a build that has to wait. */
export interface QueuedInfo {
  /** Builds waiting before this one. */
  ahead: number;
  /** Builds running now, in all and of this account. */
  running: number;
  runningForAccount: number;
}

/**
 * Run `work` once the account and the process have room for another build; `onQueued` is
 * called first when it has to wait. An aborted `signal` takes a waiting build out of line.
 */
export async function inBuildSlot<T>(
  account: string,
  work: () => Promise<T>,
  opts: { onQueued?: (info: QueuedInfo) => void; signal?: AbortSignal } = {},
): Promise<T> {
  // A build waiting now is held by its own account's limit, or every slot is taken.
  if (hasRoom(account)) take(account);
  else {
    opts.onQueued?.({
      ahead: waiting.length,
      running: total,
      runningForAccount: running.get(account) ?? 0,
    });
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        account,
        start: () => {
          opts.signal?.removeEventListener("abort", leave);
          resolve();
        },
      };
      const leave = () => {
        const at = waiting.indexOf(waiter);
        if (at >= 0) waiting.splice(at, 1);
        reject(opts.signal?.reason ?? new Error("aborted"));
      };
      if (opts.signal?.aborted) return leave();
      opts.signal?.addEventListener("abort", leave, { once: true });
      waiting.push(waiter);
    });
  }
  try {
    return await work();
  } finally {
    release(account);
  }
}

/** Builds running and waiting in this process (for metrics and tests). */
export function buildSlots(): { running: number; waiting: number } {
  return { running: total, waiting: waiting.length };
}
