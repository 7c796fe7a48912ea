export interface StackPorts {
  regions: { region: string; port: number }[];
  tracker: number;
  worker: number;
}

/**
 * The ports the stack's services will listen on, read from the same variables the
 * services read (DESIGN §7), so the launcher knows where to wait for readiness.
 */
export function stackPorts(env: Record<string, string | undefined>): StackPorts {
  const base = Number(env.BERTH_PORT || 5000);
  const regions = env.BERTH_REGIONS
    ? env.BERTH_REGIONS.split(",")
        .map((s) => s.trim())
        .filter(Boolean)
        .map((entry) => {
          const [region, port] = entry.split("=");
          return { region: region!.trim(), port: Number(port ?? base) };
        })
    : [{ region: "us-south", port: base }];
  return {
    regions,
    tracker: Number(env.BERTH_TRACKER_PORT || 7400),
    worker: Number(env.BERTH_WORKER_PORT || 7401),
  };
}
