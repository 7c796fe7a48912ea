import { readdirSync, readFileSync } from "node:fs";

/**
 * CPU seconds (user + system) a process and its direct children have used so far, from
 * /proc (Linux): the figure benchmarks compare, since on a shared machine rates measure the
 * neighbours as much as the process.
 */
export function cpuOfTree(rootPid: number): number {
  const TICKS = 100;
  let total = 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // Fields after the command name (which may hold spaces) start at index 2 (state).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const pid = Number(entry);
    const ppid = Number(fields[1]);
    if (pid === rootPid || ppid === rootPid) {
      total += (Number(fields[11]) + Number(fields[12])) / TICKS;
    }
  }
  return total;
}
