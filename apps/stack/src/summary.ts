import { relative } from "node:path";
import type { EmbeddedServer } from "@berth/db";
import type { StackPorts } from "./ports";

/** Show enough of a key to recognise it, never enough to use it. */
export function maskKey(key: string): string {
  return key.length <= 8 ? "****" : `${key.slice(0, 4)}…${key.slice(-4)}`;
}

/**
 * Where the embedded Postgres listens and keeps its data; when the data is not in the data
 * directory (root's postgres user could not reach it), where it is and why.
 */
export function postgresLine(
  pg: Pick<EmbeddedServer, "port" | "dataDir" | "clusterDir" | "movedBecause">,
  cwd: string,
): string {
  const shown = (path: string) => {
    const rel = relative(cwd, path);
    return rel && !rel.startsWith("..") ? rel : path;
  };
  const where = pg.movedBecause
    ? `data in ${pg.clusterDir}, linked from ${shown(pg.dataDir)}: ${pg.movedBecause}`
    : `data in ${shown(pg.clusterDir)}`;
  return `embedded on 127.0.0.1:${pg.port}   (${where})`;
}

export function serviceLines(opts: {
  host: string;
  ports: StackPorts;
  postgres: string;
  key: string;
  /** Server processes sharing each region's port (BERTH_SERVER_PROCESSES). */
  servers?: number;
}): string[] {
  const { host, ports } = opts;
  const processes = (opts.servers ?? 1) > 1 ? `, ${opts.servers} processes` : "";
  return [
    ...ports.regions.map(
      (r) =>
        `registry  ${r.region.padEnd(10)} http://${host}:${r.port}   (OCI /v2, tRPC /trpc, /metrics${processes})`,
    ),
    `tracker   all regions http://${host}:${ports.tracker}/regions/<region>`,
    `worker    metrics     http://${host}:${ports.worker}/metrics`,
    `postgres  ${opts.postgres}`,
    `api key   ${opts.key}`,
  ];
}
