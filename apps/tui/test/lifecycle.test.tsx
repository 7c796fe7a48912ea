import { createBerthClient } from "@berth/client";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { aliceApp } from "./alice-app";
import { cliAt } from "./in-process";
import { KEY, renderSized, type Screen } from "./ink";
import { aliceImage, type Stack, startStack } from "./stack";

// Issue 19 in the CLI and the app: trash-list shows until when, image-restore brings an
// image back by tag or digest, trash-purge asks first; image-bulk-delete reports each image;
// image-prune-untagged and the immutability verbs; the trash screen restores and purges the
// selected entry after asking.

let stack: Stack;
const alice = () => createBerthClient({ url: stack.url, apiKey: stack.alice.apiKey });
const open: Screen[] = [];

const cli = (args: string[]) => cliAt(stack.url, stack.alice.apiKey, args);

const image = (repository: string, tag: string, created?: string) =>
  aliceImage(stack, repository, tag, created);

beforeAll(async () => {
  stack = await startStack({ tracker: false, worker: false });
  await alice().namespace.create.mutate({ name: "lifecli" });
}, 180_000);
afterAll(async () => stack?.stop());
afterEach(() => {
  for (const s of open.splice(0)) s.unmount();
});

describe("the trash verbs", () => {
  it("trash-list shows what was deleted and until when; image-restore brings it back by tag", async () => {
    const img = await image("lifecli/app", "1.0");
    await alice().image.rm.mutate({ images: ["lifecli/app:1.0"] });
    const list = await cli(["trash-list"]);
    expect(list.code, list.stderr).toBe(0);
    const [header, row] = list.stdout.trimEnd().split("\n");
    expect(header).toMatch(
      /^ID\s+REPOSITORY\s+DIGEST\s+TAGS\s+SIZE\s+DELETED BY\s+DELETED\s+UNTIL$/,
    );
    const until = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    expect(row).toMatch(
      new RegExp(`lifecli/app\\s+sha256:\\S+\\s+1\\.0\\s+.*image\\.rm\\s+.*${until}`),
    );
    const json = await cli(["trash-list", "--repository", "lifecli/app", "-o", "json"]);
    expect(JSON.parse(json.stdout)).toMatchObject([
      { repository: "lifecli/app", digest: img.digest, tags: ["1.0"], reason: "image.rm" },
    ]);
    const restored = await cli(["image-restore", "lifecli/app:1.0"]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(restored.stdout).toBe(
      `Restored lifecli/app:1.0 (${img.digest.slice(0, 19)}) with tags 1.0.\n`,
    );
    expect((await cli(["trash-list"])).stdout).toBe("The trash is empty.\n");
  });

  it("image-restore of something not in the trash fails with the server's message", async () => {
    const r = await cli(["image-restore", "lifecli/app:nope"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("image lifecli/app:nope is not in the trash of region us-south");
  });

  it("trash-purge demands --force where nobody can answer, then purges by id or --all", async () => {
    await image("lifecli/p", "a");
    await image("lifecli/p", "b");
    await alice().image.rm.mutate({ images: ["lifecli/p:a", "lifecli/p:b"] });
    const [first] = await alice().trash.list.query({ repository: "lifecli/p" });
    const asked = await cli(["trash-purge", first!.id]);
    expect(asked.code).toBe(2);
    expect(asked.stderr).toContain("confirm with --force");
    const neither = await cli(["trash-purge", "--force"]);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toContain("give trash entry ids (see trash-list) or --all");
    const one = await cli(["trash-purge", first!.id, "--force"]);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toBe(`Purged lifecli/p@${first!.digest} (${first!.id}).\n`);
    const all = await cli(["trash-purge", "--all", "--force"]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout.trimEnd().split("\n")).toHaveLength(1);
    expect(await alice().trash.list.query()).toEqual([]);
  });
});

describe("the lifecycle verbs", () => {
  it("image-bulk-delete reports each image and exits 1 when one failed", async () => {
    await image("lifecli/bulk", "1");
    await image("lifecli/bulk", "2");
    const r = await cli([
      "image-bulk-delete",
      "lifecli/bulk:1",
      "lifecli/bulk:nope",
      "lifecli/bulk:2",
    ]);
    expect(r.code).toBe(1);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^TARGET\s+RESULT\s+REASON$/);
    expect(lines[1]).toMatch(/^lifecli\/bulk:1\s+DELETED/);
    expect(lines[2]).toMatch(
      /^lifecli\/bulk:nope\s+FAILED\s+image lifecli\/bulk:nope was not found/,
    );
    expect(lines[3]).toMatch(/^lifecli\/bulk:2\s+DELETED/);
    const none = await cli(["image-bulk-delete"]);
    expect(none.code).toBe(2);
  });

  it("image-prune-untagged moves the untagged images of a repository to the trash", async () => {
    const old = await image("lifecli/prune", "x", "2019-01-01T00:00:00Z");
    await image("lifecli/prune", "x", "2020-01-01T00:00:00Z");
    const r = await cli(["image-prune-untagged", "--repository", "lifecli/prune"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      new RegExp(`^REPOSITORY\\s+DIGEST\\nlifecli/prune\\s+${old.digest.slice(0, 19)}`),
    );
    const again = await cli(["image-prune-untagged", "--repository", "lifecli/prune"]);
    expect(again.stdout).toBe("No untagged images to prune.\n");
    const both = await cli(["image-prune-untagged"]);
    expect(both.code).toBe(2);
  });

  it("immutability-set and immutability; an immutable tag is refused with the reason", async () => {
    await image("lifecli/imm", "1");
    const on = await cli(["immutability-set", "lifecli/imm", "on"]);
    expect(on.code, on.stderr).toBe(0);
    expect(on.stdout).toBe("Tag immutability is on for lifecli/imm.\n");
    const show = await cli(["immutability", "lifecli"]);
    expect(show.stdout).toMatch(/Whole namespace\s+mutable\nImmutable repositories\s+lifecli\/imm/);
    const untag = await cli(["image-untag", "lifecli/imm:1"]);
    expect(untag.code).toBe(1);
    expect(untag.stderr).toContain(
      "tag lifecli/imm:1 is immutable (tag immutability is on for repository lifecli/imm) and cannot be removed",
    );
    const bad = await cli(["immutability-set", "lifecli/imm", "maybe"]);
    expect(bad.code).toBe(2);
    const off = await cli(["immutability-set", "lifecli/imm", "off"]);
    expect(off.stdout).toBe("Tag immutability is off for lifecli/imm.\n");
  });
});

describe("the trash screen", () => {
  it("lists the trash with until when, restores and purges the selected entry after asking", async () => {
    await alice().trash.purge.mutate({});
    await image("lifecli/screen", "v1");
    await image("lifecli/gone", "v1");
    await alice().image.rm.mutate({ images: ["lifecli/screen:v1", "lifecli/gone:v1"] });
    const s = renderSized(aliceApp(stack, "trash"), 120, 24);
    open.push(s);
    const until = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
    await s.waitFor(/REPOSITORY\s+DIGEST\s+TAGS\s+DELETED BY\s+UNTIL/);
    await s.waitFor(new RegExp(`lifecli/gone\\s+sha256:\\S+\\s+v1\\s+image\\.rm\\s+${until}`));
    expect(s.frame()).toContain("9 Trash");
    // The newest deletion is listed first: move to lifecli/screen.
    const rows = s
      .frame()
      .split("\n")
      .filter((l) => l.includes("lifecli/"));
    if (!rows[0]!.includes("lifecli/screen")) await s.press(KEY.down);
    await s.press("u");
    await s.waitFor(/Restore lifecli\/screen@sha256:\S+ with its tags v1\?/);
    await s.press("y");
    await s.waitFor("✓ Restored lifecli/screen@");
    await s.waitForGone(/lifecli\/screen\s+sha256/);
    expect((await alice().image.list.query({ repository: "lifecli/screen" })).items).toHaveLength(
      1,
    );
    await s.press("p");
    await s.waitFor(/Delete lifecli\/gone@sha256:\S+ for good\?/);
    await s.press("y");
    await s.waitFor("The trash is empty");
    expect(await alice().trash.list.query()).toEqual([]);
  }, 60_000);
});
