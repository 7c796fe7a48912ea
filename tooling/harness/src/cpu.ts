import { readdirSync, readFileSync } from "node:fs";

/** USER_HZ on Linux: /proc's CPU times are in these ticks. */
const TICKS = 100;

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux); with `reaped`,
 * also its children that have exited (a postmaster's vacuum workers, say). 0 once it is
 * gone. The figure benchmarks compare, since on a shared machine rates measure the
 * neighbours as much as the process.
 */
export function cpuSeconds(pid: number, reaped = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at index 2 (state).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const own = Number(fields[11]) + Number(fields[12]);
    return (own + (reaped ? Number(fields[13]) + Number(fields[14]) : 0)) / TICKS;
  } catch {
    return 0;
  }
}

/** The pids of a process's living children, from /proc. */
export function childrenOf(parent: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, "utf8");
      if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) === parent) out.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return out;
}

/** CPU seconds a process and its direct children have used so far. */
export function cpuOfTree(rootPid: number): number {
  return childrenOf(rootPid).reduce((total, pid) => total + cpuSeconds(pid), cpuSeconds(rootPid));
}
