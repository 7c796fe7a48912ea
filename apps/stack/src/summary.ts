import type { StackPorts } from "./ports";

/** Show enough of a key to recognise it, never enough to use it. */
export function maskKey(key: string): string {
  return key.length <= 8 ? "****" : `${key.slice(0, 4)}…${key.slice(-4)}`;
}

export function serviceLines(opts: {
  host: string;
  ports: StackPorts;
  postgres: string;
  key: string;
}): string[] {
  const { host, ports } = opts;
  return [
    ...ports.regions.map(
      (r) =>
        `registry  ${r.region.padEnd(10)} http://${host}:${r.port}   (OCI /v2, tRPC /trpc, /metrics)`,
    ),
    `tracker   all regions http://${host}:${ports.tracker}/regions/<region>`,
    `worker    metrics     http://${host}:${ports.worker}/metrics`,
    `postgres  ${opts.postgres}`,
    `api key   ${opts.key}`,
  ];
}
