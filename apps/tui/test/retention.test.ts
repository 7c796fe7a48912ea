import { createBerthClient } from "@berth/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliAt } from "./in-process";
import { aliceImage, type Stack, startStack } from "./stack";

// Issue 19's retention verbs against a real server process: retention-policy-set and -get,
// retention-analyze (what would go, and why), retention-run (asks first, --force where
// nobody can answer); bad numbers are refused by the CLI or, with the server's message, by
// the server. The stored policy keeps everything (a scheduled run may fire at any time);
// analyze and run are given a stricter policy for the call.

let stack: Stack;
const alice = () => createBerthClient({ url: stack.url, apiKey: stack.alice.apiKey });

const cli = (args: string[]) => cliAt(stack.url, stack.alice.apiKey, args);

const digests: string[] = [];

beforeAll(async () => {
  stack = await startStack({ tracker: false, worker: false });
  await alice().namespace.create.mutate({ name: "retcli" });
  await alice().namespace.create.mutate({ name: "retnone" });
  for (const tag of ["old", "mid", "new"]) {
    const image = await aliceImage(stack, "retcli/app", tag);
    digests.push(image.digest);
  }
}, 180_000);
afterAll(async () => stack?.stop());

describe("the retention verbs", () => {
  it("retention-policy-set stores a policy and retention-policy-get shows it", async () => {
    const set = await cli([
      "retention-policy-set",
      "retcli",
      "--images",
      "10",
      "--retain-untagged",
    ]);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe(
      "Retention policy of retcli: keep 10 per repository, keep untagged, keep pulled within 30 days.\n",
    );
    const get = await cli(["retention-policy-get", "retcli"]);
    expect(get.code, get.stderr).toBe(0);
    expect(get.stdout).toMatch(/Images per repository\s+10\n/);
    expect(get.stdout).toMatch(/Untagged images\s+kept\n/);
    const json = await cli(["retention-policy-get", "retcli", "-o", "json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      namespace: "retcli",
      policy: { imagesPerRepository: 10, keepUntagged: true, keepPulledWithinDays: 30 },
    });
    const none = await cli(["retention-policy-get", "retnone"]);
    expect(none.stdout).toBe("Namespace retnone has no retention policy.\n");
  });

  it("retention-analyze lists what a run would remove and why, removing nothing", async () => {
    const r = await cli([
      "retention-analyze",
      "retcli",
      "--images",
      "1",
      "--keep-pulled-days",
      "0",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const [head, , header, ...rows] = r.stdout.trimEnd().split("\n");
    expect(head).toBe(
      "Policy: keep 1 per repository, remove untagged, keep pulled within 0 days. A run would remove 2 image(s) and keep 1.",
    );
    expect(header).toMatch(/^REPOSITORY\s+DIGEST\s+TAGS\s+PUSHED\s+WHY$/);
    expect(rows.map((row) => row.split(/\s+/)[2]).sort()).toEqual(["mid", "old"]);
    for (const row of rows) expect(row).toMatch(/beyond-count$/);
    expect((await alice().trash.list.query({ namespace: "retcli" })).length).toBe(0);
  });

  it("retention-run asks first (--force where it cannot), then moves the images to the trash", async () => {
    const policy = ["--images", "1", "--keep-pulled-days", "0"];
    const asked = await cli(["retention-run", "retcli", ...policy]);
    expect(asked.code).toBe(2);
    expect(asked.stderr).toContain("confirm with --force");
    expect(await alice().trash.list.query({ namespace: "retcli" })).toEqual([]);
    const r = await cli(["retention-run", "retcli", ...policy, "--force"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.split("\n")[0]).toBe(
      "Retention run of retcli: 2 image(s) moved to the trash, 1 kept.",
    );
    const trash = await alice().trash.list.query({ namespace: "retcli" });
    expect(trash.map((t) => t.digest).sort()).toEqual([digests[0], digests[1]].sort());
    expect(new Set(trash.map((t) => t.reason))).toEqual(new Set(["retention.run"]));
    const again = await cli(["retention-run", "retcli", ...policy]);
    expect(again.stdout).toBe("Nothing to remove in retcli.\n");
  });

  it.each<[string[], 1 | 2, RegExp]>([
    [["retention-policy-set", "retcli", "--images", "abc"], 2, /--images takes a whole number/],
    [["retention-policy-set", "retcli"], 2, /give --images N/],
    [["retention-analyze", "retcli", "--retain-untagged"], 2, /give --images N with/],
    [["retention-policy-set", "retcli", "--images=-1"], 1, /imagesPerRepository: .*>=1/],
    [
      ["retention-policy-set", "retcli", "--images", "99999999"],
      1,
      /imagesPerRepository: .*<=10000/,
    ],
    [["retention-policy-get", "nosuchns1"], 1, /namespace "nosuchns1" was not found/],
  ])("berth %j fails with exit %i", async (args, code, message) => {
    const r = await cli(args);
    expect(r.code, r.stdout + r.stderr).toBe(code);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(message);
  });
});
