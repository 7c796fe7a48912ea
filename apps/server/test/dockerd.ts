import { type ChildProcess, spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RunResult, requireTool, run } from "./oci-helpers";

/**
 * A private Docker daemon for the docker CLI tests: its own data, exec root, socket and
 * (managed) containerd under a temp folder, no bridge and no iptables, so it touches nothing
 * of the machine's. The CLI talks to it with DOCKER_HOST; each login gets its own
 * DOCKER_CONFIG, so root's ~/.docker is never read or written.
 */
export interface Dockerd {
  tmp: string;
  /** Run the docker CLI against this daemon with the config folder `config`. */
  run(config: string, args: string[], input?: string): Promise<RunResult>;
  /** The same, requiring success; the error names the command, its output and the daemon's log. */
  ok(config: string, args: string[], input?: string): Promise<string>;
  /** A fresh DOCKER_CONFIG folder (no credentials in it). */
  config(name: string): string;
  /** The last lines of dockerd's own log. */
  logTail(lines?: number): string;
  close(): Promise<void>;
}

/**
 * Start dockerd, or say why it cannot run here. A missing binary always fails (CI installs
 * docker.io); a daemon that cannot start is a reason to skip only outside CI.
 */
export async function startDockerd(): Promise<Dockerd | { unavailable: string }> {
  await Promise.all([requireTool("dockerd"), requireTool("docker")]);
  if (process.getuid?.() !== 0)
    return { unavailable: "dockerd needs root, and the tests do not run as root" };
  const tmp = mkdtempSync(join(tmpdir(), "berth-dockerd-"));
  const dirs = { data: join(tmp, "data"), exec: join(tmp, "exec"), configs: join(tmp, "configs") };
  for (const dir of Object.values(dirs)) mkdirSync(dir);
  const socket = join(tmp, "docker.sock");
  const logFile = join(tmp, "dockerd.log");
  // Its own (empty) daemon.json, so the machine's /etc/docker/daemon.json changes nothing.
  writeFileSync(join(tmp, "daemon.json"), "{}");
  const log = openSync(logFile, "a");
  const child = spawn(
    "dockerd",
    [
      "--config-file",
      join(tmp, "daemon.json"),
      "--iptables=false",
      "--ip-masq=false",
      "--bridge=none",
      "--storage-driver=vfs",
      "-H",
      `unix://${socket}`,
      "--data-root",
      dirs.data,
      "--exec-root",
      dirs.exec,
      "--pidfile",
      join(tmp, "dockerd.pid"),
    ],
    { stdio: ["ignore", log, log] },
  );
  closeSync(log);
  let exited: string | undefined;
  child.on("exit", (code, signal) => {
    exited = `dockerd exited (${signal ?? code})`;
  });
  child.on("error", (error) => {
    exited = `dockerd did not start: ${error.message}`;
  });
  const logTail = (lines = 40) =>
    existsSync(logFile)
      ? readFileSync(logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n")
      : "";
  const runDocker = (config: string, args: string[], input?: string, timeoutMs = 180_000) =>
    run("docker", args, {
      env: { DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: config, DOCKER_BUILDKIT: "0" },
      timeoutMs,
      ...(input === undefined ? {} : { input }),
    });
  let n = 0;
  const daemon: Dockerd = {
    tmp,
    run: runDocker,
    async ok(config, args, input) {
      const r = await runDocker(config, args, input);
      if (r.code !== 0) {
        throw new Error(
          `docker ${args.join(" ")} failed (${r.code}):\n${r.stderr}\n${r.stdout}\n--- dockerd log (last lines) ---\n${logTail()}`,
        );
      }
      return r.stdout;
    },
    config(name) {
      const dir = join(dirs.configs, `${++n}-${name}`);
      mkdirSync(dir);
      return dir;
    },
    logTail,
    close: () => stop(child, tmp, dirs.exec),
  };

  // Ready when the API answers; bounded, since a daemon that hangs would hang the suite.
  const deadline = Date.now() + 120_000;
  const probe = daemon.config("probe");
  let last: RunResult | undefined;
  while (Date.now() < deadline && exited === undefined) {
    last = await runDocker(
      probe,
      ["version", "--format", "{{.Server.Version}}"],
      undefined,
      20_000,
    );
    if (last.code === 0) return daemon;
    await new Promise((r) => setTimeout(r, 500));
  }
  const why = `${exited ?? "dockerd did not answer within 120 s"}; docker version said: ${last?.stderr.trim() ?? "nothing"}\n--- dockerd log (last lines) ---\n${logTail()}`;
  await daemon.close();
  return { unavailable: why };
}

/**
 * SIGTERM (dockerd stops its containerd), SIGKILL after 30 s; then whatever is left: the
 * containerd of a killed daemon, the mounts dockerd made under the folder, the folder.
 */
async function stop(child: ChildProcess, tmp: string, exec: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    await gone;
    clearTimeout(timer);
  }
  const containerdPid = join(exec, "containerd", "containerd.pid");
  if (existsSync(containerdPid)) {
    const pid = Number(readFileSync(containerdPid, "utf8").trim());
    if (pid > 0) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Already gone, as after a clean stop.
      }
    }
  }
  // dockerd bind-mounts its data root (and its netns files) onto themselves; they outlive it.
  const mounts = readFileSync("/proc/mounts", "utf8")
    .split("\n")
    .map((line) => line.split(" ")[1] ?? "")
    .filter((point) => point.startsWith(`${tmp}/`))
    .sort((a, b) => b.length - a.length);
  for (const point of mounts) await run("umount", ["-l", point]);
  rmSync(tmp, { recursive: true, force: true });
}
