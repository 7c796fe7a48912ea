import { canonicalJson } from "./canonical";
import { type Hash, leafHashOfText } from "./hash";

/**
 * The bytes a log entry commits to: the RFC 8785 canonical JSON of the event exactly as the
 * export returns it, so anyone holding the export can recompute every leaf.
 */
export function eventLeafBytes(event: unknown): Buffer {
  return Buffer.from(canonicalText(canonicalJson(event)), "utf8");
}

export function eventLeafHash(event: unknown): Hash {
  return canonicalLeafHash(canonicalJson(event));
}

/** The leaf hash of an event's canonical text, made by `canonicalJson` or `canonicalizerFor`. */
export function canonicalLeafHash(text: string | undefined): Hash {
  return leafHashOfText(canonicalText(text));
}

function canonicalText(text: string | undefined): string {
  if (text === undefined) throw new Error("the event cannot be canonicalised");
  return text;
}
