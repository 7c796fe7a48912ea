import { describe, expect, it } from "vitest";
import { COMMANDS } from "../src/cli/commands/index";
import { parseCli, runCli } from "../src/cli/run";

// `berth --help` and every verb's help show an example, and the example is a command line the
// parser accepts for that verb (an example that drifted from the options would be refused).

async function help(args: string[]): Promise<string> {
  let out = "";
  const code = await runCli(args, {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: () => true },
    stdin: process.stdin,
    env: {},
  });
  expect(code, `berth ${args.join(" ")}`).toBe(0);
  return out;
}

/** Words of a shell line: spaces split, double quotes group. */
const words = (line: string) => [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);

describe("help", () => {
  it("berth --help shows examples", async () => {
    expect(await help(["--help"])).toMatch(/\nexamples:\n {2}berth login --url .*\n {2}berth /);
  });

  it.each(COMMANDS.map((c) => [c.name, c.example] as const))(
    "berth %s --help shows its example, which parses as that verb",
    async (name, example) => {
      const text = await help([name, "--help"]);
      expect(text).toContain(`\nexample:\n  ${example}\n`);
      const [berth, ...args] = words(example);
      expect(berth).toBe("berth");
      expect(parseCli(args).command).toBe(name);
    },
  );
});
