import { freePort } from "@berth/db";

export interface StackPorts {
  regions: { region: string; port: number }[];
  tracker: number;
  worker: number;
}

const DEFAULT_PORT = 5000;
const DEFAULT_TRACKER_PORT = 7400;

/** A port setting: unset gives the default; anything but 0-65535 stops the launch, naming it. */
function port(name: string, value: string | undefined, fallback: number): number {
  const text = value?.trim();
  if (!text) return fallback;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > 65_535)
    throw new Error(`${name}: "${text}" is not a port (0-65535)`);
  return n;
}

/**
 * The ports the stack's services will listen on, read from the same variables the services
 * read, so the launcher knows where to wait for each. The worker's metrics port follows the
 * tracker's (BERTH_TRACKER_PORT + 1) unless BERTH_WORKER_PORT says otherwise, so a second
 * stack given its own BERTH_PORT and BERTH_TRACKER_PORT takes no port of the first. A port
 * of 0 is left for {@link choosePorts}. Region names are the server's to check.
 */
export function stackPorts(env: Record<string, string | undefined>): StackPorts {
  const base = port("BERTH_PORT", env.BERTH_PORT, DEFAULT_PORT);
  const regions = env.BERTH_REGIONS?.trim()
    ? env.BERTH_REGIONS.split(",")
        .map((s) => s.trim())
        .filter(Boolean)
        .map((entry) => {
          const [region, p] = entry.split("=");
          return { region: region!.trim(), port: port(`BERTH_REGIONS (${entry})`, p, base) };
        })
    : [{ region: "us-south", port: base }];
  if (regions.length === 0) throw new Error("BERTH_REGIONS: no regions listed");
  const tracker = port("BERTH_TRACKER_PORT", env.BERTH_TRACKER_PORT, DEFAULT_TRACKER_PORT);
  const worker = port(
    "BERTH_WORKER_PORT",
    env.BERTH_WORKER_PORT,
    tracker === 0 || tracker === 65_535 ? 0 : tracker + 1,
  );
  return { regions, tracker, worker };
}

/**
 * Ports of 0 become free ports chosen here, so the launcher knows where to wait for each
 * service and prints where they are; the services are then given the chosen ports.
 */
export async function choosePorts(ports: StackPorts): Promise<StackPorts> {
  const taken = new Set([...ports.regions.map((r) => r.port), ports.tracker, ports.worker]);
  const pick = async (port: number) => {
    if (port !== 0) return port;
    // Nothing is bound until the services start, so two picks may be the same free port:
    // each service gets its own.
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
  };
  const regions = [];
  for (const r of ports.regions) regions.push({ region: r.region, port: await pick(r.port) });
  return { regions, tracker: await pick(ports.tracker), worker: await pick(ports.worker) };
}

/** The variables that hand the chosen ports to the services. */
export function portEnv(ports: StackPorts): Record<string, string> {
  return {
    BERTH_PORT: String(ports.regions[0]!.port),
    BERTH_REGIONS: ports.regions.map((r) => `${r.region}=${r.port}`).join(","),
    BERTH_TRACKER_PORT: String(ports.tracker),
    BERTH_WORKER_PORT: String(ports.worker),
  };
}

/**
 * BERTH_SERVER_PROCESSES: how many server processes the stack runs (default 1, at most 64).
 * They share each region's port (see forkService), so clients see one address per region.
 */
export function serverProcesses(env: Record<string, string | undefined>): number {
  const text = env.BERTH_SERVER_PROCESSES?.trim();
  if (!text) return 1;
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 1 || n > 64) {
    throw new Error(`BERTH_SERVER_PROCESSES: "${text}" is not a number of processes (1-64)`);
  }
  return n;
}
