import { BuildInputError } from "./context";

/**
 * `K=V` build args, as `--build-arg` takes them; `K` alone takes K's value from `env`, and is
 * left out when `env` has none (as docker does).
 */
export function parseBuildArgs(
  specs: string[],
  env: Record<string, string | undefined>,
): Record<string, string> {
  const args: Record<string, string> = {};
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const name = eq < 0 ? spec : spec.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new BuildInputError(`build arg "${spec}" is not NAME=value`);
    }
    if (eq >= 0) args[name] = spec.slice(eq + 1);
    else if (env[name] !== undefined) args[name] = env[name]!;
  }
  return args;
}

/** The app's build-args field: `K=V` pairs separated by spaces, values quoted when they hold one. */
export function splitBuildArgs(text: string): string[] {
  const out: string[] = [];
  let current = "";
  let quote: string | null = null;
  let any = false;
  for (const ch of text) {
    if (quote) {
      if (ch === quote) quote = null;
      else current += ch;
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      any = true;
    } else if (/\s/.test(ch)) {
      if (any || current) out.push(current);
      current = "";
      any = false;
    } else {
      current += ch;
      any = true;
    }
  }
  if (quote) throw new BuildInputError("build args: a quote is not closed");
  if (any || current) out.push(current);
  return out;
}
