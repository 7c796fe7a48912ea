import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { appRouter } from "@berth/api";
import { ACTION_NAMES, ACTIONS, actionByProcedure } from "@berth/core";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../src/cli/commands";

// The docs are what users and reviewers hold the code to; these tests fail, naming what is
// missing, when the code gains an action, a setting, a verb or a script the docs do not
// mention. It lives here because the CLI's command registry is this package's; the rest is
// read from the repository's files.

const root = fileURLToPath(new URL("../../../", import.meta.url));
const read = (path: string) => readFileSync(join(root, path), "utf8");
const docs = ["README.md", ...readdirSync(join(root, "docs")).map((f) => `docs/${f}`)];

/** Every .ts/.tsx file under `dir`, tests and build output left out. */
function sources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    if (entry === "node_modules" || entry === "dist" || entry === "test") continue;
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sources(path));
    else if (/\.tsx?$/.test(entry) && !/\.test\.tsx?$/.test(entry)) out.push(path);
  }
  return out;
}

// Variables the code reads that are deliberately not in README's settings table.
const UNDOCUMENTED_ENV = new Set([
  // the user's home and XDG folder: where the CLI's config file is by default (BERTH_CONFIG's row)
  "HOME",
  "XDG_CONFIG_HOME",
  "BERTH_BENCH_UNAUDITED", // benchmark-only: bench:api prices the audit against a server without it
  "BERTH_BENCH_UNLOGGED", // benchmark-only: the tracker's unlogged tables for bench:delivery
  "BERTH_TEST_ADMIN_URL", // test-only: set by @berth/db/testing for the test processes it starts
  "MOTO_SERVER", // test-only: which moto_server binary the S3 tests start
]);

const ENV_NAME = "[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+|HOME";
const ENV_READS = [
  // process.env.X, env.X, env?.X, io.env.X, env["X"]
  new RegExp(`\\benv\\??\\.(${ENV_NAME})\\b`, "g"),
  new RegExp(`\\benv\\[["'](${ENV_NAME})["']\\]`, "g"),
  // entries of the zod schemas given to loadEnv (@t3-oss/env-core): `BERTH_X: z.…`, `port…`, `int(…`
  new RegExp(`^\\s*(${ENV_NAME}):\\s*(?:z\\b|port\\b|int\\(|atLeastOne\\()`, "gm"),
  // names held in constants (process.env[SOME_CONST]) or reported in messages
  /["'`](BERTH_[A-Z0-9_]*[A-Z0-9])["'`]/g,
];

/** Every environment variable the processes read, with the files that read it. */
function envReads(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const dirs = ["apps", "packages"].flatMap((top) =>
    readdirSync(join(root, top)).map((name) => join(root, top, name, "src")),
  );
  for (const dir of dirs.filter((d) => statSync(d, { throwIfNoEntry: false })?.isDirectory())) {
    for (const file of sources(dir)) {
      const text = readFileSync(file, "utf8");
      for (const pattern of ENV_READS) {
        for (const match of text.matchAll(pattern)) {
          const name = match[1] as string;
          found.set(name, [...new Set([...(found.get(name) ?? []), relative(root, file)])]);
        }
      }
    }
  }
  return found;
}

/** README's configuration table: the rows' first cells. */
function settingsTable(): Set<string> {
  const names = new Set<string>();
  for (const line of read("README.md").split("\n")) {
    // A row may name several variables of one meaning: `AWS_REGION`, `AWS_DEFAULT_REGION`.
    const first = /^\|([^|]*)\|/.exec(line)?.[1] ?? "";
    for (const m of first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.add(m[1] as string);
  }
  return names;
}

interface DocRow {
  target: string;
  dataEvent: string;
  severity: string;
}

/** docs/domain.md §1: the table of actions, keyed by the name without the service prefix. */
function domainActions(): Map<string, DocRow> {
  const rows = new Map<string, DocRow>();
  for (const line of read("docs/domain.md").split("\n")) {
    const cells = line.split("|").map((c) => c.trim());
    const name = /^`([a-z.-]+)`/.exec(cells[1] ?? "");
    if (!name || cells.length < 8) continue;
    rows.set(name[1] as string, {
      target: (cells[4] ?? "").replaceAll("`", ""),
      dataEvent: cells[5] ?? "",
      severity: cells[6] ?? "",
    });
  }
  return rows;
}

describe("the docs are true to the code", () => {
  it("docs/domain.md lists every action of core's catalog with its target, dataEvent and severity", () => {
    const rows = domainActions();
    const problems: string[] = [];
    for (const name of ACTION_NAMES) {
      const action = ACTIONS[name];
      const row = rows.get(action.procedure);
      if (!row) {
        problems.push(`${name}: not in docs/domain.md's table of actions`);
        continue;
      }
      const want: DocRow = {
        target: action.targetType.replace("container-registry/", ""),
        dataEvent: action.dataEvent ? "yes" : "no",
        severity: action.successSeverity,
      };
      for (const field of ["target", "dataEvent", "severity"] as const) {
        if (row[field] !== want[field])
          problems.push(`${name}: docs say ${field} ${row[field]}, the catalog ${want[field]}`);
      }
    }
    for (const documented of rows.keys()) {
      if (!ACTION_NAMES.some((n) => ACTIONS[n].procedure === documented))
        problems.push(`${documented}: in docs/domain.md but not in the catalog`);
    }
    expect(problems).toEqual([]);
  });

  it("docs/domain.md names every tRPC procedure that no action audits as not audited", () => {
    const line = /Not audited \(no event\):([\s\S]*?)\(tRPC\)/.exec(read("docs/domain.md"))?.[1];
    expect(line, "docs/domain.md has no 'Not audited (no event): … (tRPC)' list").toBeDefined();
    const listed = [...(line ?? "").matchAll(/`([a-z.*]+)`/g)].map((m) => m[1] as string);
    const covered = (path: string) =>
      listed.some((l) => l === path || (l.endsWith(".*") && path.startsWith(l.slice(0, -1))));
    const procedures = Object.keys(appRouter._def.procedures);
    expect(procedures.length, "the router lists no procedures").toBeGreaterThan(20);
    const missing = procedures.filter((p) => !actionByProcedure(p) && !covered(p));
    expect(missing, "unaudited procedures docs/domain.md §1 does not name").toEqual([]);
  });

  it("README's settings table has every environment variable the code reads", () => {
    const reads = envReads();
    // The scan must see the settings it is known to read, or it has stopped working.
    for (const known of ["DATABASE_URL", "BERTH_PORT", "BERTH_WORKER_BATCH_SIZE", "BERTH_URL"])
      expect(reads.has(known), `the scan no longer finds ${known}`).toBe(true);
    const table = settingsTable();
    const missing = [...reads]
      .filter(([name]) => !table.has(name) && !UNDOCUMENTED_ENV.has(name))
      .map(([name, files]) => `${name} (read in ${files.join(", ")})`);
    expect(missing).toEqual([]);
    const stale = [...table].filter((name) => !reads.has(name));
    expect(stale, "in README's table but read nowhere").toEqual([]);
  });

  it("README or docs/tui.md mentions every CLI verb", () => {
    const text = read("README.md") + read("docs/tui.md");
    const missing = COMMANDS.map((c) => c.name).filter(
      (verb) => !new RegExp(`(\`|\\bberth )${verb}(\`|[ \\n])`).test(text),
    );
    expect(missing).toEqual([]);
  });

  it("the docs mention every bench:* and fault:* script", () => {
    const scripts = Object.keys(JSON.parse(read("package.json")).scripts as object).filter((s) =>
      /^(bench|fault):/.test(s),
    );
    const text = docs.map(read).join("\n");
    const missing = scripts.filter((script) => !text.includes(script));
    expect(missing).toEqual([]);
  });
});
