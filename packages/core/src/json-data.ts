/** How deep an event's requestData/responseData may nest: request data is a few levels deep. */
export const MAX_DATA_DEPTH = 32;

/**
 * Why a value cannot travel as an event's data, or undefined when it can: a number JSON cannot
 * write (NaN, Infinity: a `1e400` in a body parses to Infinity) or nesting deeper than
 * `maxDepth`. Walked without recursion, so a hostile depth cannot overflow the stack here, and
 * checked before anything that recurses (the secrets walk, canonical JSON, Postgres's parser).
 */
export function jsonDataIssue(value: unknown, maxDepth = MAX_DATA_DEPTH): string | undefined {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const v = next.value;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) return "holds a number JSON cannot write";
      continue;
    }
    if (typeof v !== "object" || v === null) continue;
    if (next.depth >= maxDepth) return `nests deeper than ${maxDepth} levels`;
    for (const item of Array.isArray(v) ? v : Object.values(v)) {
      stack.push({ value: item, depth: next.depth + 1 });
    }
  }
  return undefined;
}
