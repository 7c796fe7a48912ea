import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The HMAC key of bearer tokens: at least 32 bytes (HS256). */
export const MIN_TOKEN_SECRET_LENGTH = 32;
export const TOKEN_SECRET_FILE = "token-secret";

/**
 * The bearer-token signing key of this server: BERTH_TOKEN_SECRET when set (several
 * processes serving one region set the same one, so each accepts the others' tokens),
 * otherwise a random key generated once and kept in `<dataDir>/token-secret` (mode 0600),
 * so that a restart does not invalidate the tokens clients hold.
 */
export function resolveTokenSecret(opts: { configured?: string; dataDir: string }): {
  secret: string;
  source: "environment" | "created" | "file";
} {
  if (opts.configured !== undefined) return { secret: opts.configured, source: "environment" };
  const path = join(opts.dataDir, TOKEN_SECRET_FILE);
  const existing = readSecretFile(path);
  if (existing) return { secret: existing, source: "file" };
  mkdirSync(opts.dataDir, { recursive: true });
  const secret = randomBytes(32).toString("base64url");
  try {
    // wx: two processes starting at once on one data dir must end with one key, the first.
    // An empty file (a crash between creating and writing it) is replaced.
    writeFileSync(path, `${secret}\n`, { mode: 0o600, flag: existing === "" ? "w" : "wx" });
    return { secret, source: "created" };
  } catch (error) {
    if ((error as { code?: unknown }).code !== "EEXIST") throw error;
    const other = readSecretFile(path);
    if (!other) throw new Error(`${path} was created empty by another process`);
    return { secret: other, source: "file" };
  }
}

/** The key in the file; undefined when there is no file, "" when it is empty. */
function readSecretFile(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return undefined;
    throw error;
  }
  const secret = text.trim();
  if (secret === "") return "";
  if (secret.length < MIN_TOKEN_SECRET_LENGTH) {
    throw new Error(
      `${path} holds a token secret shorter than ${MIN_TOKEN_SECRET_LENGTH} characters; remove it to generate a new one`,
    );
  }
  // Whoever reads the key can mint tokens for any account: only the owner may.
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
  return secret;
}
