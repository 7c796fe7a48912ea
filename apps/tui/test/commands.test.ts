import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBerthClient } from "@berth/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../src/cli/run";
import { berth, type Run, spawnBerth } from "./cli";
import { contextDir, sixStepContext } from "./context-dir";
import { aliceImage, type Stack, startStack, until } from "./stack";

// Command mode, through the built binary: every verb's output and exit code, tables and
// `--output json` parsed back, errors on stderr.
// Over 400 lines on purpose: one stack (server, tracker and worker processes in two regions)
// serves the whole file, and its tests build on each other's state (namespaces made early are
// imaged, their events queried, removed at the end); split, each part would start its own.

let stack: Stack;
let env: Record<string, string>;
const run = (...args: string[]) => berth(args, env);
const runIn = (input: string, ...args: string[]) => berth(args, env, { input });

function expectOk(r: Run): Run {
  expect(r.stderr, `stderr of a command expected to succeed`).toBe("");
  expect(r.code).toBe(0);
  return r;
}

function expectError(r: Run, code: 1 | 2, message: RegExp): Run {
  expect(r.code, r.stdout + r.stderr).toBe(code);
  expect(r.stdout).toBe("");
  expect(r.stderr).toMatch(message);
  return r;
}

beforeAll(async () => {
  stack = await startStack({ regions: ["us-south", "ap-north"] });
  const home = mkdtempSync(join(tmpdir(), "berth-cli-"));
  env = { HOME: home, BERTH_CONFIG: join(home, "berth", "config.json") };
}, 180_000);
afterAll(async () => stack?.stop());

describe("login and configuration", () => {
  it("logs in, stores the key 0600, and never prints it whole", async () => {
    const key = stack.alice.apiKey;
    const r = expectOk(await run("login", "--url", stack.url, "--api-key", key));
    expect(r.stdout).toContain(`Logged in to region us-south at ${stack.url}`);
    expect(r.stdout).toContain("alice@example.com");
    expect(r.stdout).not.toContain(key);
    expect(statSync(env.BERTH_CONFIG!).mode & 0o777).toBe(0o600);
    const saved = JSON.parse(readFileSync(env.BERTH_CONFIG!, "utf8"));
    expect(saved).toEqual({ region: "us-south", regions: { "us-south": stack.url }, apiKey: key });

    // The key can come on stdin instead of the command line.
    const piped = expectOk(await runIn(`${key}\n`, "login", "--url", stack.url, "-o", "json"));
    expect(piped.json<{ region: string; apiKey: string }>()).toMatchObject({ region: "us-south" });
    expect(piped.stdout).not.toContain(key);

    const who = expectOk(await run("whoami", "-o", "json")).json<{
      account: { id: string };
      region: string;
      apiKey: string;
    }>();
    expect(who.account.id).toBe(stack.alice.account.id);
    expect(who.region).toBe("us-south");
    expect(who.apiKey).not.toBe(key);
    expect(expectOk(await run("whoami")).stdout).not.toContain(key);
  });

  it("refuses a bad key as a failure", async () => {
    expectError(
      await run("login", "--url", stack.url, "--api-key", "not-a-key-at-all"),
      1,
      /the API key is not valid \(UNAUTHORIZED\)/,
    );
  });

  it.each<[string[], RegExp]>([
    [["no-such-verb"], /unknown command "no-such-verb"/],
    [["namespace-list", "--bogus"], /unknown option '--bogus'/],
    [["namespace-list", "-o", "yaml"], /--output is table or json/],
    [["namespace-add"], /namespace-add needs NAME/],
    [["namespace-list", "extra"], /takes no arguments/],
    [["build"], /build needs the image to build: -t ns\/repo:tag/],
  ])("refuses bad usage with exit 2: berth %j", async (args, message) => {
    expectError(await run(...args), 2, message);
  });

  it("refuses a missing URL, as JSON when asked, and shows help and version", async () => {
    expectError(await berth(["login"], { HOME: env.HOME }), 2, /login needs the server URL/);
    const json = await run("namespace-add", "-o", "json");
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: "USAGE" } });
    expect(expectOk(await run("--help")).stdout).toContain("namespace-add NAME");
    expect(expectOk(await run("events", "--help")).stdout).toContain("--follow");
    expect(expectOk(await run("--version")).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it("reports an unreachable server as a failure, not a usage error", async () => {
    const r = await berth(["namespace-list", "--url", "http://127.0.0.1:1", "--api-key", "k"], {
      HOME: env.HOME,
    });
    expectError(r, 1, /cannot reach the Berth server at http:\/\/127\.0\.0\.1:1/);
  });
});

describe("namespaces and images", () => {
  it("adds, lists and refuses namespaces", async () => {
    expect(expectOk(await run("namespace-add", "birds")).stdout).toBe(
      "Namespace birds added in region us-south.\n",
    );
    const added = expectOk(await run("namespace-add", "fish-tank", "-o", "json")).json<{
      name: string;
      region: string;
    }>();
    expect(added).toMatchObject({ name: "fish-tank", region: "us-south" });
    expectError(await run("namespace-add", "birds"), 1, /already in use.*\(CONFLICT\)/);
    expectError(await run("namespace-add", "No"), 1, /\(BAD_REQUEST\)/);
    const json = await run("namespace-add", "birds", "-o", "json");
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: "CONFLICT" } });

    const table = expectOk(await run("namespace-list")).stdout.split("\n");
    expect(table[0]).toMatch(/^NAMESPACE\s+REPOSITORIES\s+IMAGES\s+CREATED$/);
    expect(table[1]).toMatch(/^birds\s+0\s+0\s+\d{4}-\d\d-\d\d \d\d:\d\d$/);
    const list = expectOk(await run("namespace-list", "-o", "json")).json<{ name: string }[]>();
    expect(list.map((n) => n.name)).toEqual(["birds", "fish-tank"]);
  });

  it("lists, inspects, tags, untags and removes images", async () => {
    const robin = await aliceImage(stack, "birds/robin", "1");
    await aliceImage(stack, "fish-tank/carp", "2");
    const table = expectOk(await run("image-list")).stdout;
    expect(table).toMatch(/^REPOSITORY\s+TAG\s+DIGEST\s+NAMESPACE\s+SIZE\s+PUSHED/);
    expect(table).toMatch(
      new RegExp(`\\nbirds/robin\\s+1\\s+${robin.digest.slice(0, 19)}\\s+birds\\s`),
    );
    const mine = expectOk(await run("image-list", "--namespace", "birds", "-o", "json")).json<
      { image: string; digest: string }[]
    >();
    expect(mine).toEqual([
      expect.objectContaining({ image: "birds/robin:1", digest: robin.digest }),
    ]);
    expect(expectOk(await run("image-list", "-q")).stdout).toBe(
      "birds/robin:1\nfish-tank/carp:2\n",
    );
    expectError(await run("image-list", "--namespace", "nobody"), 1, /NOT_FOUND/);

    const inspected = expectOk(await run("image-inspect", "birds/robin:1", "-o", "json")).json<
      { digest: string; layers: unknown[]; config: { architecture: string } }[]
    >();
    expect(inspected[0]!.digest).toBe(robin.digest);
    expect(inspected[0]!.config.architecture).toBe("amd64");
    const text = expectOk(await run("image-inspect", "birds/robin:1")).stdout;
    expect(text).toContain(`Digest       ${robin.digest}`);
    expect(text).toMatch(/LAYER\s+SIZE/);
    expectError(await run("image-inspect", "birds/robin:missing"), 1, /NOT_FOUND/);

    expect(expectOk(await run("image-tag", "birds/robin:1", "birds/robin:latest")).stdout).toBe(
      `Tagged birds/robin:1 as birds/robin:latest (${robin.digest.slice(0, 19)}).\n`,
    );
    expectError(await run("image-tag", "birds/robin:1"), 2, /image-tag needs SOURCE TARGET/);

    const untag = expectOk(await run("image-untag", "birds/robin:latest", "-o", "json")).json<{
      untagged: string[];
    }>();
    expect(untag.untagged).toEqual(["birds/robin:latest"]);
    // A bulk call whose only target fails is refused as a whole.
    expectError(await run("image-untag", "birds/robin:gone"), 1, /NOT_FOUND/);

    const rm = await run("image-rm", "birds/robin:1", "birds/nothing:1");
    expect(rm.code).toBe(1);
    expect(rm.stdout).toMatch(/birds\/robin:1\s+REMOVED/);
    expect(rm.stdout).toMatch(/birds\/nothing:1\s+FAILED/);
    const rmJson = expectOk(await run("image-rm", "fish-tank/carp:2", "-o", "json")).json<{
      results: { ok: boolean }[];
    }>();
    expect(rmJson.results).toEqual([{ target: "fish-tank/carp:2", ok: true }]);
    expect(expectOk(await run("image-list", "-o", "json")).json()).toEqual([]);
    // Fifteen berth processes one after another: over a minute at a load of 30.
  }, 240_000);
});

interface BuiltImage {
  target: string;
  digest: string;
  created: boolean;
  layers: { digest: string; reused: boolean }[];
  base: { reference: string; digest: string | null };
}

describe("build", () => {
  const app = {
    ...sixStepContext("hello, berth\n"),
    "secret.txt": "not for the image\n",
    ".dockerignore": "secret.txt\n",
  };

  it("builds from scratch with files, progress on stderr and the digest on stdout", async () => {
    expectOk(await run("namespace-add", "workshop"));
    const dir = contextDir(app);
    const r = await run("build", dir, "-t", "workshop/hello:1", "--build-arg", "VERSION=2");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    const digest = r.stdout.trim();
    const progress = r.stderr.split("\n");
    expect(progress[0]).toMatch(/^Sending build context: 5 files, /);
    expect(progress).toContain("Step 1/6 : FROM scratch");
    expect(progress).toContain("Step 3/6 : COPY hello.txt /hello.txt");
    expect(progress).toContain('Step 6/6 : CMD ["/usr/bin/run"]');
    expect(r.stderr).toMatch(
      /Step 4\/6 : COPY bin\/ \/usr\/bin\/\n ---> 1 file copied, layer sha256:/,
    );
    expect(r.stderr).toMatch(/Successfully built workshop\/hello:1: 2 layers, /);
    // Steps come in order, each once.
    const steps = progress.filter((l) => l.startsWith("Step "));
    expect(steps.map((l) => /^Step (\d+)\//.exec(l)![1])).toEqual(["1", "2", "3", "4", "5", "6"]);

    const [image] = expectOk(await run("image-inspect", "workshop/hello:1", "-o", "json")).json<
      { digest: string; layers: unknown[]; config: { config: { Env: string[]; Cmd: string[] } } }[]
    >();
    expect(image!.digest).toBe(digest);
    expect(image!.layers).toHaveLength(2);
    expect(image!.config.config.Env).toContain("VERSION=2");
    expect(image!.config.config.Cmd).toEqual(["/usr/bin/run"]);

    // The same inputs again, as JSON: the same image, already there; no progress.
    const again = await run(
      "build",
      dir,
      "--tag",
      "workshop/hello:1",
      "--build-arg",
      "VERSION=2",
      "-o",
      "json",
    );
    expectOk(again);
    const result = again.json<BuiltImage>();
    expect(result).toMatchObject({
      target: "workshop/hello:1",
      digest,
      created: false,
      base: { reference: "scratch", digest: null },
    });
    expect(result.layers.map((l) => l.reused)).toEqual([false, false]);

    // -q: the digest alone; -f names another Dockerfile inside the context.
    const other = contextDir({
      ...app,
      "docker/Other.Dockerfile": "FROM workshop/hello:1\nLABEL a=b\n",
    });
    const quiet = await run(
      "build",
      other,
      "-f",
      join(other, "docker/Other.Dockerfile"),
      "-t",
      "workshop/hello:2",
      "-q",
    );
    expectOk(quiet);
    expect(quiet.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(quiet.stdout).not.toBe(r.stdout);
    const list = expectOk(await run("image-list", "--namespace", "workshop", "-q")).stdout;
    expect(list).toBe("workshop/hello:1\nworkshop/hello:2\n");
  });

  it("fails a RUN Dockerfile with exit 1, naming and quoting the line", async () => {
    const dir = contextDir({ Dockerfile: 'FROM scratch\nRUN make\nCMD ["x"]\n' });
    const r = await run("build", dir, "-t", "workshop/broken:1");
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("   2 │ RUN make\n");
    expect(r.stderr).toMatch(/^berth: Dockerfile line 2: RUN is not supported.*\(BAD_REQUEST\)$/m);

    const json = await run("build", dir, "-t", "workshop/broken:1", "-o", "json");
    expect(json.code).toBe(1);
    expect(json.stdout).toBe("");
    expect(JSON.parse(json.stderr)).toEqual({
      error: {
        code: "BAD_REQUEST",
        message: expect.stringMatching(/^Dockerfile line 2: RUN/),
        line: 2,
      },
    });
    // A namespace that does not exist: refused by the server, not a usage error.
    const ok = contextDir(app);
    expectError(await run("build", ok, "-t", "nowhere/app:1"), 1, /NOT_FOUND/);
    expectError(await run("build", ok, "-t", "Not A Tag"), 1, /BAD_REQUEST/);
  });

  // Made when the file is collected: the table below names paths inside it.
  // Made when the file is collected; CTX in the table below stands for it.
  const bad = contextDir(app);
  it.each<[string[], RegExp]>([
    [["CTX"], /-t ns\/repo:tag/],
    [["CTX", "-t", "a/b:1", "-t", "a/b:2"], /one -t/],
    [["CTX/missing", "-t", "a/b:1"], /does not exist/],
    [["CTX/hello.txt", "-t", "a/b:1"], /not a directory/],
    [["CTX/bin", "-t", "a/b:1"], /no Dockerfile in/],
    [["CTX/bin", "-f", "CTX/Dockerfile", "-t", "a/b:1"], /is not inside the build context/],
    [["CTX", "-t", "a/b:1", "--build-arg", "=x"], /not NAME=value/],
    [["CTX", "-t", "a/b:1", "--source-date-epoch", "soon"], /seconds since 1970/],
    [["CTX", "other", "-t", "a/b:1"], /at most 1/],
    [["CTX", "-t", "a/b:1", "--bogus"], /unknown option '--bogus'/],
  ])("refuses bad usage with exit 2 before sending anything: build %j", async (args, message) => {
    const paths = args.map((a) => a.replace(/^CTX/, bad));
    expectError(await run("build", ...paths), 2, message);
  });

  it("refuses bad usage as JSON when asked", async () => {
    const json = await run("build", bad, "-o", "json");
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: { code: "USAGE" } });
  });

  it("cancels on Ctrl-C, exiting 1", async () => {
    const dir = contextDir(app);
    const stop = new AbortController();
    let err = "";
    let out = "";
    const code = await runCli(["build", dir, "-t", "workshop/cancelled:1"], {
      stdout: { write: (t: string) => (out += t) },
      stderr: {
        write: (t: string) => {
          err += t;
          // Interrupted as the first step arrives.
          if (t.startsWith("Step 1/")) stop.abort();
        },
      },
      stdin: process.stdin,
      env: { ...env, BERTH_API_KEY: stack.alice.apiKey, BERTH_URL: stack.url },
      signal: stop.signal,
    });
    expect(code, err).toBe(1);
    expect(out).toBe("");
    expect(err).toMatch(/berth: build cancelled/);
    expect(err).not.toContain("Successfully built");
  });
});

describe("quota and plan", () => {
  it("shows and sets quotas, shows and upgrades the plan", async () => {
    const q = expectOk(await run("quota")).stdout;
    expect(q).toContain("Region us-south, plan lite");
    expect(q).toMatch(/storage\s+512 MB\s+\d/);
    const set = expectOk(await run("quota-set", "--storage", "100", "-o", "json")).json<{
      quotas: { storageMb: number | null; trafficMb: number | null };
    }>();
    expect(set.quotas).toEqual({ storageMb: 100, trafficMb: null });
    expect(expectOk(await run("quota-set", "--traffic", "200")).stdout).toBe(
      "Quotas of region us-south: storage 100 MB, pull traffic 200 MB.\n",
    );
    expectError(await run("quota-set"), 2, /give --storage MB, --traffic MB, or both/);
    expectError(await run("quota-set", "--storage", "lots"), 2, /whole number of MB/);
    expectError(await run("quota-set", "--storage", "999999"), 1, /PLAN_LIMIT|BAD_REQUEST/);
    const unlimited = expectOk(await run("quota-set", "--storage", "unlimited", "-o", "json"));
    expect(unlimited.json<{ quotas: { storageMb: null } }>().quotas.storageMb).toBeNull();

    expect(expectOk(await run("plan")).stdout).toMatch(/^Region\s+us-south\nPlan\s+lite\n/);
    expect(expectOk(await run("plan-upgrade")).stdout).toBe(
      "Plan of region us-south upgraded to standard.\n",
    );
    const again = expectOk(await run("plan-upgrade", "-o", "json")).json<{ changed: boolean }>();
    expect(again.changed).toBe(false);
    expectError(await run("plan-upgrade", "lite"), 1, /can only be upgraded/);
  });
});

describe("registry tokens", () => {
  it("creates with the secret shown once, lists, gets and deletes", async () => {
    const made = expectOk(
      await run("token-add", "--description", "ci", "--readwrite", "-o", "json"),
    ).json<{ id: string; secret: string; access: string; expiresAt: string | null }>();
    expect(made.access).toBe("readwrite");
    expect(made.secret.length).toBeGreaterThan(20);
    expect(made.expiresAt).not.toBeNull();
    const text = expectOk(await run("token-add", "--non-expiring")).stdout;
    expect(text).toMatch(/Secret\s+\S{20,}/);
    expect(text).toMatch(/Expires\s+never/);
    expect(text).toContain("cannot be shown again");

    const list = expectOk(await run("token-list", "-o", "json")).json<{ id: string }[]>();
    expect(list).toHaveLength(2);
    expect(JSON.stringify(list)).not.toContain(made.secret);
    expect(expectOk(await run("token-list")).stdout).toMatch(/^TOKEN ID\s+ACCESS\s+EXPIRES/);
    expect(expectOk(await run("token-get", made.id)).stdout).toMatch(/Access\s+readwrite/);
    expectError(await run("token-get", "not-a-uuid"), 1, /UUID/);

    expectError(await run("token-rm", made.id), 2, /confirm with --force/);
    const one = expectOk(await run("token-rm", made.id, "--force"));
    expect(one.stdout).toMatch(new RegExp(`${made.id}\\s+REMOVED`));
    const other = list.find((t) => t.id !== made.id)!.id;
    const third = expectOk(await run("token-add", "-o", "json")).json<{ id: string }>().id;
    const many = expectOk(await run("token-rm", other, third, "-f", "-o", "json")).json<{
      results: { ok: boolean }[];
    }>();
    expect(many.results.map((r) => r.ok)).toEqual([true, true]);
    expect(expectOk(await run("token-list", "-o", "json")).json()).toEqual([]);
    expectError(await run("token-rm", other, "-f"), 1, /NOT_FOUND/);
  });
});

describe("exemptions", () => {
  it("adds, lists by scope and removes", async () => {
    const args = ["--scope", "birds", "--issue-type", "cve", "--issue-id", "CVE-2018-17929"];
    expect(expectOk(await run("exemption-add", ...args)).stdout).toBe(
      "Exemption of CVE-2018-17929 (cve) added for scope birds.\n",
    );
    const list = expectOk(await run("exemption-list", "-o", "json")).json<{ scope: string }[]>();
    expect(list.map((e) => e.scope)).toEqual(["birds"]);
    const applies = expectOk(await run("exemption-list", "--scope", "birds/robin:1", "-o", "json"));
    expect(applies.json<unknown[]>()).toHaveLength(1);
    expect(expectOk(await run("exemption-list")).stdout).toMatch(
      /^SCOPE\s+ISSUE TYPE\s+ISSUE ID\s+CREATED\nbirds\s+cve\s+CVE-2018-17929/,
    );
    expectError(await run("exemption-add", "--scope", "birds"), 2, /give --scope, --issue-type/);
    expectError(
      await run("exemption-add", "--scope", "birds", "--issue-type", "bug", "--issue-id", "x"),
      2,
      /--issue-type is cve or configuration/,
    );
    expectError(
      await run("exemption-add", "--scope", "birds", "--issue-type", "cve", "--issue-id", "CVE-1"),
      1,
      /CVE ids look like/,
    );
    expect(expectOk(await run("exemption-rm", ...args)).stdout).toBe(
      "Exemption of CVE-2018-17929 removed from scope birds.\n",
    );
    expectError(await run("exemption-rm", ...args), 1, /NOT_FOUND/);
  });
});

describe("events and delivery", () => {
  it("queries the delivered events with filters, tables and JSON", async () => {
    type Page = {
      region: string;
      lines: { event: { action: string; target: { name: string } } }[];
    };
    let page: Page | undefined;
    await until(async () => {
      const r = await run("events", "--action", "namespace.create", "-o", "json");
      page = r.code === 0 ? r.json<Page>() : undefined;
      return (page?.lines.length ?? 0) >= 2;
    }, "the namespace.create events to reach the tracker");
    expect(page!.region).toBe("us-south");
    const targets = page!.lines.map((l) => l.event.target.name);
    expect(targets).toContain("birds");
    expect(targets).toContain("fish-tank");

    const table = expectOk(await run("events", "--target", "fish-tank", "--outcome", "success"));
    expect(table.stdout).toMatch(/^TIME\s+ACTION\s+OUTCOME\s+SEVERITY\s+TARGET\s+INITIATOR\n/);
    expect(table.stdout).toMatch(
      /namespace\.create\s+success\s+normal\s+fish-tank\s+alice@example\.com/,
    );
    const failures = expectOk(await run("events", "--outcome", "failure", "-o", "json"));
    expect(failures.json<Page>().lines.length).toBeGreaterThan(0);
    const paged = await run("events", "--size", "1");
    expect(paged.code).toBe(0);
    expect(paged.stderr).toMatch(/more events: berth events --page \S+/);
    const cursor = /--page (\S+)/.exec(paged.stderr)![1]!;
    expectOk(await run("events", "--size", "1", "--page", cursor, "-o", "json"));
    expectError(await run("events", "--size", "many"), 2, /--size takes a number/);
    expectError(await run("events", "--outcome", "maybe"), 1, /BAD_REQUEST|Invalid/);
    expectError(await run("events", "--page", "garbage"), 1, /bad event query/);
  });

  it("follows live events until interrupted, one JSON event a line", async () => {
    const tail = spawnBerth(["events", "--follow", "-o", "json"], env);
    try {
      await until(
        () => tail.err.includes("following events of region us-south"),
        () => `ready: ${tail.err}`,
      );
      const client = createBerthClient({ url: stack.url, apiKey: stack.alice.apiKey });
      await client.namespace.create.mutate({ name: "live-ns" });
      await until(
        () => tail.out.includes('"live-ns"'),
        () => `the live event: ${tail.out} ${tail.err}`,
      );
      const line = JSON.parse(tail.out.trim().split("\n").at(-1)!) as { event: { action: string } };
      expect(line.event.action).toBe("container-registry.namespace.create");
    } finally {
      tail.child.kill("SIGINT");
    }
    expect(await tail.exited).toBe(0);
  });

  it("shows delivery status and dead letters, and redrives", async () => {
    const status = expectOk(await run("delivery-status", "-o", "json")).json<{
      pending: number;
      dead: number;
      lagMs: number;
      destinations: { destination: string; pending: number; dead: number; lagMs: number }[];
    }>();
    expect(status).toEqual({
      pending: expect.any(Number),
      dead: 0,
      lagMs: expect.any(Number),
      destinations: [
        { destination: "tracker", pending: status.pending, dead: 0, lagMs: status.lagMs },
      ],
    });
    expect(expectOk(await run("delivery-status")).stdout).toMatch(
      /^DESTINATION\s+PENDING\s+DEAD\s+LAG\s*\ntracker\s+\d+\s+0\s+/,
    );
    expect(expectOk(await run("delivery-dead", "-o", "json")).json()).toEqual([]);
    expect(expectOk(await run("delivery-dead")).stdout).toMatch(/^EVENT ID\s+ACTION\s+ATTEMPTS/);
    expectError(await run("delivery-redrive"), 2, /give the event ids to redrive, or --all/);
    expect(expectOk(await run("delivery-redrive", "--all")).stdout).toBe(
      "0 event(s) sent back for delivery.\n",
    );
    expectError(await run("delivery-redrive", "not-an-id"), 1, /UUID/);
  });
});

describe("regions", () => {
  it("switches region by name, checks a new endpoint, and lists them", async () => {
    const north = stack.urls["ap-north"]!;
    expect(expectOk(await run("region-set", "ap-north", "--url", north)).stdout).toBe(
      `Now targeting region ap-north at ${north}.\n`,
    );
    const who = expectOk(await run("whoami", "-o", "json")).json<{ region: string }>();
    expect(who.region).toBe("ap-north");
    expectOk(await run("namespace-add", "tokyo-ns"));
    // The same command with --region picks that region's endpoint for one call.
    const us = expectOk(await run("namespace-list", "--region", "us-south", "-o", "json"));
    expect(us.json<{ name: string }[]>().map((n) => n.name)).not.toContain("tokyo-ns");
    // ap-north's events go to the ap-south tracker, which `events` reads by default.
    await until(async () => {
      const r = await run("events", "-o", "json");
      return (
        r.code === 0 &&
        r.stdout.includes("tokyo-ns") &&
        r.json<{ region: string }>().region === "ap-south"
      );
    }, "the ap-north event in ap-south");

    const regions = expectOk(await run("region", "-o", "json")).json<{
      region: string;
      regions: Record<string, string>;
    }>();
    expect(regions).toMatchObject({
      region: "ap-north",
      regions: { "ap-north": north, "us-south": stack.url },
    });
    expect(expectOk(await run("region")).stdout).toMatch(/ap-north\s+http\S+\s+\*/);
    expectOk(await run("region-set", "us-south"));
    expectError(await run("region-set", "mars"), 2, /"mars" is not a region/);
    expectError(
      await run("region-set", "eu-central"),
      2,
      /no endpoint is known for region eu-central/,
    );
    expectError(
      await run("region-set", "uk-south", "--url", stack.url),
      1,
      /serves region us-south, not uk-south/,
    );
    expectError(await run("region-set"), 2, /region-set needs REGION/);
  });
});

describe("destructive commands and logout", () => {
  it("asks before deleting a namespace, then logs out", async () => {
    expectError(await run("namespace-rm", "birds"), 2, /confirm with --force/);
    expect(expectOk(await run("namespace-rm", "birds", "--force")).stdout).toMatch(
      /^Namespace birds removed \(1 repositories, 0 images, .* released\)\.\n$/,
    );
    expectError(await run("namespace-rm", "birds", "-f"), 1, /NOT_FOUND/);
    expect(expectOk(await run("logout")).stdout).toBe("API key removed.\n");
    expectError(await run("namespace-list"), 2, /no API key configured/);
    // The environment still works without the file's key.
    const viaEnv = await berth(["namespace-list", "-o", "json"], {
      ...env,
      BERTH_API_KEY: stack.bob.apiKey,
    });
    expect(viaEnv.code).toBe(0);
    expect(viaEnv.json()).toEqual([]);
  });
});
