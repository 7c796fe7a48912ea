import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { z } from "zod";
import { configPath, type Env } from "../../config";

/**
 * What `events-verify` remembers beside the CLI's config: the tracker key pinned on first use
 * (per tracker region) and the last checkpoint verified (per log origin), so a changed key or a
 * rewritten history is caught later even when every signature is valid.
 */
const trustSchema = z.object({
  keys: z.record(z.string(), z.string()).default({}),
  checkpoints: z.record(z.string(), z.string()).default({}),
});
export type Trust = z.output<typeof trustSchema>;

export const trustPath = (env: Env) => join(dirname(configPath(env)), "log-trust.json");

export function readTrust(env: Env): Trust {
  const path = trustPath(env);
  if (!existsSync(path)) return { keys: {}, checkpoints: {} };
  return trustSchema.parse(JSON.parse(readFileSync(path, "utf8")));
}

export function writeTrust(env: Env, trust: Trust): void {
  const path = trustPath(env);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(trust, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}
