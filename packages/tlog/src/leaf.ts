import canonicalize from "canonicalize";
import { type Hash, leafHash } from "./hash";

/**
 * The bytes a log entry commits to: the RFC 8785 canonical JSON of the event exactly as the
 * export returns it, so anyone holding the export can recompute every leaf.
 */
export function eventLeafBytes(event: unknown): Buffer {
  const text = canonicalize(event);
  if (text === undefined) throw new Error("the event cannot be canonicalised");
  return Buffer.from(text, "utf8");
}

export function eventLeafHash(event: unknown): Hash {
  return leafHash(eventLeafBytes(event));
}
