import { isIP } from "node:net";
import { ConfigError } from "./env";

/** Whether an address to listen on is reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "");
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  // An IPv4-mapped loopback (::ffff:127.x.y.z).
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped ? mapped[1]!.startsWith("127.") : false;
}

/** A secret the process would use, and whether it is one built into Berth (public in its source). */
export interface SecretInUse {
  variable: string;
  builtIn: boolean;
  /** What to set, when it is not simply the variable (e.g. DATABASE_URL for the embedded database). */
  hint?: string;
}

/**
 * Built-in keys and passwords are published with the source: fine on loopback, where only
 * this machine reaches the port; anywhere else anyone who reaches it could use them. So a
 * process listening elsewhere refuses to start with any of them, naming what to set.
 */
export function refuseBuiltInSecrets(host: string, secrets: SecretInUse[]): void {
  if (isLoopback(host)) return;
  const builtIn = secrets.filter((s) => s.builtIn);
  if (builtIn.length === 0) return;
  const lines = builtIn.map(
    (s) =>
      `${s.variable}: ${s.hint ?? "must be set"}: the built-in value is public, and BERTH_HOST (${host}) is reachable from other machines`,
  );
  throw new ConfigError(lines.join("\n"));
}

/**
 * Without DATABASE_URL the process starts (or joins) the embedded Postgres, whose password
 * is built in: refused, with the built-in keys, on a reachable BERTH_HOST.
 */
export function embeddedDatabase(databaseUrl: string | undefined): SecretInUse {
  return {
    variable: "DATABASE_URL",
    builtIn: databaseUrl === undefined,
    hint: "must name a Postgres with its own password (the embedded one's is built in)",
  };
}
