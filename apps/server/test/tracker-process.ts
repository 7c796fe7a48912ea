import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const TSX = fileURLToPath(new URL("../node_modules/.bin/tsx", import.meta.url));
const TRACKER_MAIN = fileURLToPath(new URL("../../tracker/src/main.ts", import.meta.url));

export interface TrackerProcess {
  url: string;
  ingestionKey: string;
  queryKey: string;
  child: ChildProcess;
  /** POST events to a region's ingestion API, as the worker does. */
  ingest(region: string, events: unknown[]): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The local tracker as its own process (apps do not import apps), on a free port, storing
 * into its own schema of the given database. Resolves once it printed its URL.
 */
export async function startTrackerProcess(databaseUrl: string): Promise<TrackerProcess> {
  const ingestionKey = "test-ingestion-key";
  const queryKey = "test-query-key-123";
  const child = spawn(TSX, [TRACKER_MAIN], {
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      BERTH_TRACKER_PORT: "0",
      BERTH_TRACKER_KEYS: ingestionKey,
      BERTH_TRACKER_QUERY_KEY: queryKey,
      BERTH_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`tracker did not start: ${out}`)), 60_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const m = /tracker\s+(http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`tracker exited with ${code}: ${out}`));
    });
  });
  return {
    url,
    ingestionKey,
    queryKey,
    child,
    async ingest(region, events) {
      const res = await fetch(`${url}/regions/${region}/logs/ingest?hostname=test`, {
        method: "POST",
        headers: { "content-type": "application/json", apikey: ingestionKey },
        body: JSON.stringify({
          lines: events.map((meta) => ({
            timestamp: Date.now(),
            line: (meta as { message: string }).message,
            app: "container-registry",
            level: "INFO",
            meta,
          })),
        }),
      });
      if (!res.ok) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
    },
    stop() {
      return new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
        child.once("exit", () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill("SIGTERM");
      });
    },
  };
}
