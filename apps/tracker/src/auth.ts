import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingHttpHeaders } from "node:http";

/**
 * The key a request presents: the `apikey` header, or the user of Basic auth (the ingestion
 * API's convention: key as user, empty password; a key given as the password works too).
 */
export function presentedKey(headers: IncomingHttpHeaders): string | undefined {
  const apikey = headers.apikey;
  if (typeof apikey === "string" && apikey !== "") return apikey;
  const auth = headers.authorization;
  if (typeof auth !== "string") return undefined;
  const m = /^Basic\s+(\S+)$/i.exec(auth);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  const user = colon < 0 ? decoded : decoded.slice(0, colon);
  const pass = colon < 0 ? "" : decoded.slice(colon + 1);
  return user !== "" ? user : pass !== "" ? pass : undefined;
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Constant-time comparison (of digests, so lengths leak nothing either). */
export function keyMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  return timingSafeEqual(digest(presented), digest(expected));
}
