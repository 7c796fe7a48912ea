/** Values of unlabelled gauges and summed counters from a Prometheus text page. */
export function parseMetrics(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    out[m[1]!] = (out[m[1]!] ?? 0) + Number(m[3]);
  }
  return out;
}
