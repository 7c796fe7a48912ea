import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Credentials are random, prefixed so a leaked one is recognisable (secret scanners, our
 * own log checks), and stored only as a SHA-256 hash. A hash of 256 random bits needs no
 * salt or slow KDF: there is nothing to guess.
 */
export const API_KEY_PREFIX = "berth_ak_";
export const REGISTRY_TOKEN_PREFIX = "berth_rt_";

export function generateSecret(prefix: string): string {
  return `${prefix}${randomBytes(32).toString("base64url")}`;
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

/**
 * Whether `secret` hashes to `storedHash`, in constant time. Rows are looked up by hash,
 * so this re-check guards against a lookup that matched for another reason (collation,
 * truncation) and keeps the comparison itself free of timing leaks.
 */
export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), "hex");
  const b = Buffer.from(storedHash, "hex");
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Random hex id of `bytes` bytes. */
export function randomId(bytes: number): string {
  return randomBytes(bytes).toString("hex");
}
