import { randomUUID } from "node:crypto";
import { createBerthClient } from "@berth/client";
import { outbox } from "@berth/db";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { App, type AppProps } from "../src/ui/app";
import { contextDir, sixStepContext } from "./context-dir";
import { KEY, plain, renderScreen, renderSized, type Screen } from "./ink";
import { aliceImage, type Stack, startStack, until } from "./stack";

// The interactive app, screen by screen, with ink-testing-library against a real server,
// tracker and worker: navigate, create, confirm, see the result and the server's errors.
// Over 400 lines on purpose: one stack (server, tracker and worker processes in two regions)
// serves the whole file, and the screens build on each other's state (the events screen shows
// what the earlier screens did); split, each part would start its own.

let stack: Stack;
const open: Screen[] = [];

beforeAll(async () => {
  stack = await startStack({ regions: ["us-south", "ap-north"] });
}, 180_000);
afterAll(async () => stack?.stop());
afterEach(() => {
  for (const s of open.splice(0)) s.unmount();
});

function app(props: Partial<AppProps> = {}): Screen {
  const s = renderScreen(
    <App
      connection={{ url: stack.url, apiKey: stack.alice.apiKey }}
      regions={{ "us-south": stack.urls["us-south"]!, "ap-north": stack.urls["ap-north"]! }}
      interactive
      {...props}
    />,
  );
  open.push(s);
  return s;
}

const alice = () => createBerthClient({ url: stack.url, apiKey: stack.alice.apiKey });

describe("the app shell", () => {
  it("shows region, account and screens, switches with digits and Tab, and quits with q", async () => {
    let quit = false;
    const s = app({
      onQuit: () => {
        quit = true;
      },
    });
    const f = await s.waitFor("alice@example.com");
    expect(f).toContain("region us-south");
    expect(f).toContain("1 Namespaces");
    expect(f).toContain("7 Delivery");
    expect(f).toContain("8 Build");
    expect(f).toContain("9 Trash");
    expect(f).toMatch(/1-9 screens\s+g region\s+q quit/);
    expect(f).not.toContain(stack.alice.apiKey);
    await s.press("3");
    await s.waitFor("No registry tokens");
    await s.press(KEY.tab);
    await s.waitFor(/Plan\s+lite/);
    await s.press("q");
    await until(() => quit, "the app to quit");
  });

  it("quits on a q typed the moment the region picker closes (before React's effects run)", async () => {
    let quit = false;
    const s = app({
      onQuit: () => {
        quit = true;
      },
    });
    await s.waitFor("region us-south");
    // q in the picker closes the picker only: the key that releases its hold is not the app's.
    await s.press("g");
    await s.waitFor("Switch region");
    await s.press("q");
    await s.waitForGone("Switch region");
    await new Promise((r) => setTimeout(r, 100));
    expect(quit, "q in the region picker quit the app").toBe(false);
    await s.press("g");
    await s.waitFor("Switch region");
    // The first frame without the picker: the app's keys are back on screen, so they work.
    const sent = s.pressOnFrame(/^(?![\s\S]*Switch region)[\s\S]*q quit/, "q");
    await s.press(KEY.escape);
    await sent;
    await until(() => quit, "the app to quit on the q typed as the picker closed", 5_000);
  });

  it("switches region from the region picker", async () => {
    const saved: unknown[] = [];
    const s = app({ save: (c) => void saved.push(c) });
    await s.waitFor("region us-south");
    await s.press("g");
    await s.waitFor("Switch region");
    expect(s.frame()).toContain(stack.urls["ap-north"]!);
    // Regions are listed by name: ap-north is above the current us-south.
    await s.press(KEY.up, KEY.enter);
    await s.waitFor("region ap-north");
    expect(saved).toEqual([{ region: "ap-north", url: stack.urls["ap-north"] }]);
  });

  it("asks to log in when no key is configured, and shows a bad key's error in place", async () => {
    const saved: { region: string; url: string; apiKey?: string }[] = [];
    const s = app({ connection: {}, save: (c) => void saved.push(c) });
    await s.waitFor("Log in to a Berth server");
    await s.type(stack.url);
    await s.press(KEY.enter);
    s.frame();
    await s.press("wrong-key-123456789");
    await s.press(KEY.enter);
    await s.waitFor("the API key is not valid");
    await s.waitFor("Log in to a Berth server");
    await s.press(KEY.down, stack.alice.apiKey, KEY.enter);
    await s.waitFor("alice@example.com");
    expect(saved).toEqual([{ region: "us-south", url: stack.url, apiKey: stack.alice.apiKey }]);
  });

  it("says so when the server cannot be reached", async () => {
    const s = app({ connection: { url: "http://127.0.0.1:1", apiKey: "k" } });
    await s.waitFor(/cannot reach the Berth server at http:\/\/127\.0\.0\.1:1/);
  });
});

/** A list screen (namespaces, exemptions) as one user goes through it. */
interface ListScreenCase {
  name: string;
  props: Partial<AppProps>;
  empty: string;
  form: string;
  /** Fills the open form of `n` with an item and submits it. */
  fill(s: Screen, item: string): Promise<void>;
  added: { item: string; notice: string; row: RegExp };
  /** Items the server refuses, and its message shown in place. */
  refused: [item: string, message: string | RegExp][];
  /** Filter or narrow the list; leaves the row to delete selected. */
  narrow(s: Screen): Promise<void>;
  confirm: string;
  kept: RegExp;
  deleted: string;
  /** What shows once the row is gone. */
  gone(s: Screen): Promise<unknown>;
}

const namespacesCase: ListScreenCase = {
  name: "namespaces",
  props: {},
  empty: "No namespaces yet",
  form: "New namespace",
  fill: async (s, name) => {
    await s.type(name);
    await s.press(KEY.enter);
  },
  added: {
    item: "birds",
    notice: "✓ Namespace birds created in us-south",
    row: /birds\s+0\s+0\s+\d{4}-/,
  },
  refused: [
    ["birds", '✗ namespace "birds" is already in use in region us-south'],
    ["No", /✗ .*namespace/i],
  ],
  narrow: async (s) => {
    await s.press("n");
    await s.type("fish-tank");
    await s.press(KEY.enter);
    await s.waitFor("✓ Namespace fish-tank created");
    await s.press("/");
    await s.type("fish");
    await s.press(KEY.enter);
    const filtered = await s.waitFor("filter: fish (1 of 2)");
    expect(filtered).not.toMatch(/birds\s+0/);
    await s.press("/", KEY.escape);
    await s.waitFor(/birds\s+0/);
    await s.press(KEY.down);
  },
  confirm: "Delete namespace fish-tank and its 0 image(s)?",
  kept: /fish-tank\s+0/,
  deleted: "✓ Namespace fish-tank deleted",
  gone: (s) => s.waitForGone(/fish-tank\s+0/),
};

const exemptionsCase: ListScreenCase = {
  name: "exemptions",
  props: { initialScreen: "exemptions" },
  empty: "No exemptions",
  form: "New exemption",
  fill: async (s, issueId) => {
    await s.type("aviary");
    await s.press(KEY.enter, KEY.enter);
    await s.type(issueId);
    await s.press(KEY.enter);
  },
  added: {
    item: "CVE-2018-17929",
    notice: "✓ Exemption of CVE-2018-17929 added for aviary",
    row: /aviary\s+cve\s+CVE-2018-17929/,
  },
  refused: [["CVE-1", /✗ .*CVE ids look like CVE-2018-17929/]],
  narrow: async (s) => {
    await s.press("s");
    await s.type("aviary/robin:1");
    await s.press(KEY.enter);
    await s.waitFor("Exemptions that apply to aviary/robin:1");
    await s.waitFor(/aviary\s+cve\s+CVE-2018-17929/);
  },
  confirm: "Remove the exemption of CVE-2018-17929 for aviary?",
  kept: /aviary\s+cve\s+CVE-2018-17929/,
  deleted: "✓ Exemption of CVE-2018-17929 removed from aviary",
  gone: (s) => s.waitFor("No exemptions"),
};

/** The one walk through a list screen, run for each (in the story's order, below). */
function walkListScreen(c: ListScreenCase) {
  it(`${c.name}: creates, refuses with the server's message, narrows, and deletes after confirming`, async () => {
    const s = app(c.props);
    await s.waitFor(c.empty);
    await s.press("n");
    await s.waitFor(c.form);
    await c.fill(s, c.added.item);
    await s.waitFor(c.added.notice);
    await s.waitFor(c.added.row);

    for (const [item, message] of c.refused) {
      await s.press("n");
      await s.waitFor(c.form);
      await c.fill(s, item);
      await s.waitFor(message);
    }

    await c.narrow(s);

    // Delete asks first; n keeps it.
    await s.press("d");
    await s.waitFor(c.confirm);
    await s.press("n");
    await s.waitForGone(c.confirm);
    expect(s.frame()).toMatch(c.kept);
    await s.press("d");
    await s.waitFor(c.confirm);
    await s.press("y");
    await s.waitFor(c.deleted);
    await c.gone(s);
  });
}

describe("namespaces", () => walkListScreen(namespacesCase));

describe("images", () => {
  it("opens a namespace's images, inspects, tags, and removes marked images", async () => {
    await alice()
      .namespace.create.mutate({ name: "aviary" })
      .catch(() => {});
    const robin = await aliceImage(stack, "aviary/robin", "1");
    await aliceImage(stack, "aviary/wren", "2");
    const s = app();
    await s.waitFor(/aviary\s+2\s+2/);
    // aviary sorts before birds
    await s.press(KEY.enter);
    await s.waitFor("Images in aviary");
    await s.waitFor("aviary/robin:1");
    expect(s.frame()).toContain(robin.digest.slice(0, 19));

    await s.press(KEY.enter);
    await s.waitFor(`Digest      ${robin.digest}`);
    expect(s.frame()).toContain("Layers (1)");
    await s.press("m");
    await s.waitFor("Manifest of aviary/robin:1");
    expect(s.frame()).toContain('"schemaVersion": 2');
    await s.press(KEY.escape);
    await s.waitFor(/aviary\/wren:2/);

    await s.press("t");
    await s.waitFor("Tag aviary/robin:1");
    await s.type("stable");
    await s.press(KEY.enter);
    await s.waitFor("✓ Tagged aviary/robin:1 as aviary/robin:stable");
    await s.waitFor("aviary/robin:stable");

    // A tag the server refuses: the message shows in place.
    await s.press("t");
    await s.type("Bad Tag");
    await s.press(KEY.enter);
    await s.waitFor(/✗ /);

    // Untag one tag after confirming: the image stays under its other tag.
    await s.press(KEY.down, "u");
    await s.waitFor("Remove tag aviary/robin:stable? The images stay.");
    await s.press(KEY.escape);
    await s.waitForGone("Remove tag");
    await s.press("u");
    await s.press("y");
    await s.waitFor("✓ Untagged aviary/robin:stable");
    await s.waitForGone(/aviary\/robin:stable\s+sha256/);
    expect(s.frame()).toContain("aviary/robin:1");

    // Mark two images, delete them both after confirming.
    await s.press(KEY.up, KEY.space, KEY.space);
    await s.waitFor("2 marked");
    await s.press("d");
    await s.waitFor("Delete 2 images");
    await s.press("y");
    await s.waitFor("✓ Deleted aviary/robin:1, aviary/wren:2");
    await s.waitFor("No images here.");
  });
});

describe("registry tokens", () => {
  it("creates one showing the secret once, shows details, deletes after confirming", async () => {
    const s = app({ initialScreen: "tokens" });
    await s.waitFor("No registry tokens");
    await s.press("n");
    await s.waitFor("New registry token");
    await s.type("ci pipeline");
    await s.press(KEY.tab, KEY.right);
    await s.waitFor("[readwrite]");
    await s.press(KEY.enter, KEY.right);
    await s.waitFor("[never]");
    await s.press(KEY.enter);
    const shown = await s.waitFor("Copy the secret now: it is shown only this once.");
    const tokens = (await alice().registrytoken.list.query()).items;
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({
      description: "ci pipeline",
      access: "readwrite",
      expiresAt: null,
    });
    expect(shown).toContain(tokens[0]!.id);
    expect(shown).toMatch(/Secret\W+\S{20,}/);

    await s.press(KEY.enter);
    await s.waitFor(/readwrite\s+never\s+ci pipeline/);
    await s.press(KEY.enter);
    await s.waitFor("Created by");
    await s.press(KEY.escape);
    await s.press("d");
    await s.waitFor(`Delete registry token ${tokens[0]!.id}?`);
    await s.press("y");
    await s.waitFor(`✓ Deleted token ${tokens[0]!.id}`);
    await s.waitFor("No registry tokens");
  });
});

describe("quota and plan", () => {
  it("shows usage bars, sets quotas, reports a refused one, upgrades after confirming", async () => {
    const s = app({ initialScreen: "quota" });
    await s.waitFor(/Plan\s+lite/);
    expect(s.frame()).toMatch(/Storage \(your quota: unlimited\)/);
    expect(s.frame()).toMatch(/of 512 MB \(\d+%\)/);
    await s.press("s");
    await s.waitFor("Set quotas");
    await s.type("100");
    await s.press(KEY.enter, KEY.enter);
    await s.waitFor("✓ Quotas set: storage 100 MB, pull traffic unlimited");
    await s.waitFor("Storage (your quota: 100 MB)");

    await s.press("s");
    await s.waitFor("Set quotas");
    await s.press(KEY.tab);
    await s.type("99999999");
    await s.press(KEY.enter);
    await s.waitFor(/✗ .*(plan|MB)/i);

    await s.press("u");
    await s.waitFor("Upgrade region us-south from the lite plan to standard?");
    await s.press("y");
    await s.waitFor("✓ Plan upgraded to standard");
    await s.waitFor(/Plan\s+standard/);
  });
});

describe("exemptions", () => walkListScreen(exemptionsCase));

describe("events", () => {
  it("shows the delivered events, new ones live, one event's JSON, and filters", async () => {
    const s = app({ initialScreen: "events" });
    await s.waitFor("● live");
    await s.waitFor("Events in us-south");
    // Events of what the earlier tests did, delivered by the worker before the screen opened.
    await s.waitFor(/exemption\.create\s+success\s+aviary\/cve\/CVE-2018-17929/);
    // Created while the screen is open: arrives through the live tail, no refresh.
    await alice().namespace.create.mutate({ name: "live-birds" });
    await s.waitFor(/namespace\.create\s+success\s+live-birds/);

    await s.press(KEY.enter);
    await s.waitFor("Container Registry: create namespace live-birds");
    expect(s.frame()).toContain('"action": "container-registry.namespace.create"');
    await s.press(KEY.escape);
    await s.waitForGone('"action"');

    await s.press("f");
    await s.waitFor("Event filters");
    await s.press(KEY.enter, KEY.right, KEY.right);
    await s.waitFor("[failure]");
    for (let i = 0; i < 6; i++) await s.press(KEY.enter);
    await s.waitFor("· failure");
    await s.waitFor(/namespace\.create\s+failure\s+birds/);
    expect(s.frame()).not.toMatch(/success\s+live-birds/);

    await s.press("l");
    await s.waitFor("○ paused");
  });
});

describe("delivery", () => {
  it("shows backlog and dead letters with reasons, and redrives after confirming", async () => {
    const id = randomUUID();
    await stack.t.db.insert(outbox).values({
      id,
      accountId: stack.alice.account.id,
      region: "us-south",
      action: "container-registry.namespace.create",
      payload: { id, action: "container-registry.namespace.create", note: "parked by the test" },
      status: "dead",
      attempts: 25,
      lastError: "tracker answered 400: the event does not validate",
      deadAt: new Date(),
    });
    const s = app({ initialScreen: "delivery" });
    await s.waitFor(/pending \d+ · dead 1 · lag/);
    await s.waitFor(/namespace\.create\s+25\s+tracker answered 400/);
    await s.press(KEY.enter);
    await s.waitFor(`Event       ${id}`);
    expect(s.frame()).toContain("Reason: tracker answered 400: the event does not validate");
    expect(s.frame()).toContain('"note": "parked by the test"');
    await s.press(KEY.escape);
    await s.press("R");
    await s.waitFor(`Send event ${id} again?`);
    await s.press("y");
    await s.waitFor("✓ 1 event(s) sent back for delivery");
  });
});

describe("build", () => {
  const files = sixStepContext("hello from the build screen\n");

  it("fills the form, shows the steps as they come and the digest, and builds again", async () => {
    await alice()
      .namespace.create.mutate({ name: "foundry" })
      .catch(() => {});
    const dir = contextDir(files);
    const s = app();
    await s.waitFor("alice@example.com");
    await s.press("8");
    await s.waitFor("No build yet");
    expect(s.frame()).toMatch(/n new build/);
    await s.press("n");
    await s.waitFor("Build an image");
    await s.type(dir);
    // The Dockerfile: empty takes the context's own.
    await s.press(KEY.enter, KEY.enter);
    await s.type("foundry/anvil:1");
    await s.press(KEY.enter);
    await s.type("VERSION=3");
    await s.press(KEY.enter);

    const done = await s.waitFor("✓ Built foundry/anvil:1");
    const image = await alice().image.inspect.query({ image: "foundry/anvil:1" });
    expect(done).toContain(`Digest  ${image.digest}`);
    expect(done).toMatch(/✓ 1\/6 FROM scratch/);
    expect(done).toMatch(/✓ 3\/6 COPY hello\.txt \/hello\.txt\n\s+1 file copied, layer sha256:/);
    expect(done).toMatch(/✓ 6\/6 CMD \["\/usr\/bin\/run"\]/);
    expect(done).toMatch(/2 layers \(0 reused\) · .* · base scratch/);
    expect(done).toContain("3 files");
    const config = image.config as { config: { Env: string[] } };
    expect(config.config.Env).toContain("VERSION=3");

    // The form keeps what was typed; r builds the same again: the same image.
    await s.press("n");
    await s.waitFor("Build an image");
    expect(s.frame()).toContain(dir);
    expect(s.frame()).toContain("foundry/anvil:1");
    await s.press(KEY.escape);
    await s.waitForGone("Build an image");
    await s.press("r");
    await s.waitFor("(the repository already held this image)");
    expect(s.frame()).toContain(`Digest  ${image.digest}`);
  });

  it("shows a failure in place, at its step, with the Dockerfile line", async () => {
    const dir = contextDir({
      "hello.txt": "hi\n",
      Dockerfile:
        'FROM scratch\nCOPY hello.txt /hello.txt\nCOPY missing.txt /missing.txt\nCMD ["x"]\n',
    });
    const s = app({ initialScreen: "build" });
    await s.waitFor("No build yet");
    // No image named: said in place, nothing sent.
    await s.press("n");
    await s.waitFor("Build an image");
    await s.type(dir);
    await s.press(KEY.enter, KEY.enter, KEY.enter, KEY.enter);
    await s.waitFor("✗ name the image to build: ns/repo:tag");

    await s.press("n");
    await s.waitFor("Build an image");
    await s.press(KEY.down, KEY.down);
    await s.type("foundry/anvil:2");
    await s.press(KEY.enter, KEY.enter);
    const f = await s.waitFor("✗ The build of foundry/anvil:2 failed at line 3 (BAD_REQUEST)");
    expect(f).toMatch(/✓ 2\/4 COPY hello\.txt \/hello\.txt/);
    expect(f).toMatch(
      /✗ 3\/4 COPY missing\.txt \/missing\.txt\n\s+3 │ COPY missing\.txt \/missing\.txt\n\s+✗ Dockerfile line 3: .*missing\.txt/,
    );
    expect(f).not.toContain("4/4");
    expect(f).not.toContain("Digest");
    await expect(alice().image.inspect.query({ image: "foundry/anvil:2" })).rejects.toThrow(
      /not found|NOT_FOUND/i,
    );
  });
});

describe("layout", () => {
  it("holds at 80×24 on every screen", async () => {
    const s = renderSized(
      <App
        connection={{ url: stack.url, apiKey: stack.alice.apiKey }}
        regions={{ "us-south": stack.url }}
        interactive
      />,
      80,
      24,
    );
    open.push(s);
    await s.waitFor("alice@example.com");
    for (const key of ["1", "2", "3", "4", "5", "6", "7", "8", "9"]) {
      await s.press(key);
      await new Promise((r) => setTimeout(r, 0));
      const lines = plain(s.frame()).split("\n");
      expect(lines.length, `screen ${key}`).toBeLessThanOrEqual(23);
      for (const line of lines)
        expect(line.length, `screen ${key}: ${line}`).toBeLessThanOrEqual(80);
      // The app's own keys keep their place in the help bar, whatever the screen adds.
      expect(lines.at(-1), `screen ${key}`).toMatch(/g region\s+q quit\s*$/);
      // Every screen's number and name, whichever is shown.
      expect(lines[1], `screen ${key}`).toMatch(
        /^ ?1 ?Namespaces .*7 ?Delivery .*8 ?Build .*9 ?Trash ?$/,
      );
    }
    // Each key once the screen it is meant for is drawn: a key that arrives while a screen
    // still mounts can find no handler yet, on a busy machine.
    await s.press("1");
    await s.waitFor(/NAMESPACE\s+REPOS/);
    await s.press("n");
    await s.waitFor("New namespace");
    for (const line of s.frame().split("\n")) expect(line.length).toBeLessThanOrEqual(80);
    await s.press(KEY.escape);
    await s.waitForGone("New namespace");
    await s.press("8");
    await s.waitFor("No build yet");
    await s.press("n");
    await s.waitFor("Build an image");
    const form = s.frame().split("\n");
    expect(form.length).toBeLessThanOrEqual(23);
    for (const line of form) expect(line.length).toBeLessThanOrEqual(80);
  });
});
