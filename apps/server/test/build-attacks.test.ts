/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfiles write variables as ${VAR} */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { BuildMessage } from "@berth/api";
import type { BerthClient } from "@berth/client";
import { BuildContextUploadError, uploadBuildContext } from "@berth/client";
import { BUILD_LIMIT_DEFAULTS, inBuildSlot, setBuildLimits } from "@berth/registry";
import { contextTar, gzipBomb } from "@berth/registry/testing";
import { afterEach, describe, expect, it } from "vitest";
import { followBuild, outcome, upload } from "./build-helpers";
import { buildTenants } from "./build-tenants";
import { USER_AGENT } from "./expect-events";
import { rid, secretPlaces } from "./helpers";

/*
 * Hostile builds through the public surface (POST /build/context and the image.build
 * subscription): archives that expand without end, patterns that backtrack for ever,
 * variables that double at every line, uploads without end, builds that crowd the server,
 * and build args that must never reach a log.
 */

const { env, alice, bob } = await buildTenants();
afterEach(() => {
  setBuildLimits(BUILD_LIMIT_DEFAULTS);
});

type Failed = Extract<BuildMessage, { kind: "failed" }>["error"];

async function buildFrom(
  files: Parameters<typeof contextTar>[0],
  target = "alicens/app:1",
  extra: { buildArgs?: Record<string, string> } = {},
  requestId = rid("attack"),
): Promise<BuildMessage[]> {
  const context = await upload(env, env.alice, files);
  return followBuild(alice, { target, context, ...extra }, requestId);
}

function failed(messages: BuildMessage[]): Failed {
  const last = outcome(messages);
  expect(last.kind, JSON.stringify(last).slice(0, 500)).toBe("failed");
  return (last as Extract<BuildMessage, { kind: "failed" }>).error;
}

describe("ADD of archives that expand", () => {
  it("stops a gzip of zeros at the build's content budget instead of unpacking it", async () => {
    // 300 MB of zeros is about 300 KB compressed: the old ADD held all of it in memory. The
    // default budget (200 MiB) holds here.
    const bomb = await gzipBomb({ bytesEach: 300 * 1024 * 1024 });
    expect(bomb.length).toBeLessThan(1024 * 1024);
    const error = failed(
      await buildFrom({ Dockerfile: "FROM scratch\nADD bomb.tar.gz /x/\n", "bomb.tar.gz": bomb }),
    );
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.line).toBe(2);
    expect(error.message).toMatch(/ADD bomb\.tar\.gz takes the build past 209715200 bytes/);
  }, 120_000);

  it("shares one budget between every archive a build unpacks", async () => {
    // Each is under the budget alone; together they are over it.
    setBuildLimits({ unpackBytes: 32 * 1024 * 1024 });
    const half = await gzipBomb({ bytesEach: 20 * 1024 * 1024 });
    const error = failed(
      await buildFrom({
        Dockerfile: "FROM scratch\nADD a.tar.gz /a/\nADD b.tar.gz /b/\n",
        "a.tar.gz": half,
        "b.tar.gz": half,
      }),
    );
    expect(error.line).toBe(3);
    expect(error.message).toMatch(/ADD b\.tar\.gz takes the build past 33554432 bytes/);
  }, 120_000);

  it("stops an archive of countless empty files at the build's entry budget", async () => {
    // A smaller budget than the default (250000) keeps the test light; the rule is the same.
    setBuildLimits({ unpackEntries: 5000 });
    const many = await gzipBomb({ bytesEach: 0, files: 6000 });
    const error = failed(
      await buildFrom({ Dockerfile: "FROM scratch\nADD many.tar.gz /m/\n", "many.tar.gz": many }),
    );
    expect(error.message).toMatch(/ADD many\.tar\.gz takes the build past 5000 archive entries/);
  }, 180_000);

  it("still unpacks an ordinary archive", async () => {
    const vendor = await contextTar({ "lib/v.txt": "vendored\n" }, { gzip: true });
    const last = outcome(
      await buildFrom({ Dockerfile: "FROM scratch\nADD v.tgz /opt/\n", "v.tgz": vendor }),
    );
    expect(last.kind, JSON.stringify(last)).toBe("done");
  });
});

describe("patterns and variables that blow up", () => {
  /** The longest the event loop stood still while `work` ran, in milliseconds. */
  async function longestStall<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
    const h = monitorEventLoopDelay({ resolution: 10 });
    h.enable();
    try {
      const result = await work();
      return { result, stallMs: h.max / 1e6 };
    } finally {
      h.disable();
    }
  }

  // `*a*a…*b` against a name of 44 a's: a backtracking RegExp tries every way of placing
  // ten a's among them (5 s for 30 a's measured here, each further a about 1.3 times more:
  // several minutes of one core, the server frozen); RE2 reads the name once.
  const name = "a".repeat(44);
  const pattern = `${"*a".repeat(10)}*b`;

  it("matches a COPY glob in linear time: the server never stalls", async () => {
    const { result, stallMs } = await longestStall(() =>
      buildFrom({ Dockerfile: `FROM scratch\nCOPY ${pattern} /x/\n`, [name]: "x" }),
    );
    const error = failed(result);
    expect(error.message).toMatch(/no file in the build context matches/);
    // Ten seconds of margin for a busy machine; the backtracking matcher stands still for minutes.
    expect(stallMs).toBeLessThan(10_000);
  }, 120_000);

  it("matches .dockerignore rules in linear time too", async () => {
    const { result, stallMs } = await longestStall(() =>
      buildFrom({
        Dockerfile: "FROM scratch\nCOPY . /x/\n",
        ".dockerignore": `${pattern}\n`,
        [name]: "x",
      }),
    );
    expect(outcome(result).kind).toBe("done");
    expect(stallMs).toBeLessThan(10_000);
  }, 120_000);

  it("refuses a .dockerignore with more patterns than it may hold", async () => {
    const lines = Array.from({ length: 1001 }, (_, i) => `p${i}`).join("\n");
    const error = failed(
      await buildFrom({ Dockerfile: "FROM scratch\n", ".dockerignore": `${lines}\n` }),
    );
    expect(error.message).toMatch(/more than 1000 patterns/);
  });

  it("caps what a variable may expand to: ENV A=$A$A cannot double for ever", async () => {
    // 8 characters doubled 30 times would be 8 GiB (the old build died with an internal
    // error once the string passed V8's limit, after taking the memory).
    const doubling = Array.from({ length: 30 }, () => "ENV A=$A$A").join("\n");
    const error = failed(
      await buildFrom({ Dockerfile: `FROM scratch\nENV A=aaaaaaaa\n${doubling}\n` }),
    );
    expect(error.code).toBe("BAD_REQUEST");
    expect(error.message).toMatch(/expands to more than 65536 characters/);
    // 8 * 2^13 = 65536 still fits; the 14th doubling (line 16) does not.
    expect(error.line).toBe(16);
  });

  it("caps the environment and labels a build may accumulate", async () => {
    // Each value is under the expansion cap; twenty of them are not under the config's.
    const lines = Array.from({ length: 20 }, (_, i) => `ENV V${i}=$A`).join("\n");
    const error = failed(
      await buildFrom({ Dockerfile: `FROM scratch\nENV A=${"v".repeat(60_000)}\n${lines}\n` }),
    );
    expect(error.message).toMatch(/ENV and LABEL values take more than 1048576 characters/);
  });
});

describe("staged contexts per account", () => {
  const tiny = () => contextTar({ Dockerfile: "FROM scratch\n" });

  it("refuses a context past the account's count with 429, and other accounts are not affected", async () => {
    setBuildLimits({ contextsPerAccount: 3 });
    // The account may already hold contexts from earlier tests: fill it up to the limit.
    const refused: number[] = [];
    let accepted = 0;
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${env.url()}/build/context`, {
        method: "POST",
        headers: { authorization: `Bearer ${env.alice.apiKey}` },
        body: await tiny(),
      });
      if (res.status === 201) accepted++;
      else {
        refused.push(res.status);
        const body = (await res.json()) as { error: string };
        expect(body.error).toMatch(
          /already has \d+ staged build contexts, the most it may hold \(3\)/,
        );
      }
    }
    expect(accepted).toBeLessThanOrEqual(3);
    expect(refused.length).toBeGreaterThanOrEqual(3);
    expect(new Set(refused)).toEqual(new Set([429]));
    // Bob's budget is his own.
    await expect(upload(env, env.bob, { Dockerfile: "FROM scratch\n" })).resolves.toMatch(/^ctx_/);
  });

  it("refuses a context past the account's bytes with 413, keeping nothing of it", async () => {
    setBuildLimits({ contextBytesPerAccount: 200_000 });
    const big = await contextTar({ Dockerfile: "FROM scratch\n", blob: "x".repeat(120_000) });
    const first = await upload(env, env.bob, big);
    const error = await uploadBuildContext(
      { url: env.url(), apiKey: env.bob.apiKey, headers: { "user-agent": USER_AGENT } },
      big,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BuildContextUploadError);
    expect((error as BuildContextUploadError).status).toBe(413);
    expect((error as BuildContextUploadError).reason).toMatch(/past 200000 bytes/);
    // What was staged before still builds.
    const last = outcome(await followBuild(bob, { target: "bobns/ok:1", context: first }));
    expect(last.kind, JSON.stringify(last)).toBe("done");
  });
});

describe("staged contexts that expire", () => {
  /** Paths of staged context files named `id`, under the store's contexts folder. */
  function filesNamed(id: string): string[] {
    const root = join(env.store.root, "contexts");
    return readdirSync(root, { recursive: true, encoding: "utf8" }).filter((p) => p.endsWith(id));
  }

  it("are not found once their time is up, and the next upload of any account removes them", async () => {
    const context = await upload(env, env.alice, { Dockerfile: "FROM scratch\n" });
    expect(filesNamed(context)).toHaveLength(1);
    setBuildLimits({ contextTtlMs: 1 });
    const last = outcome(await followBuild(alice, { target: "alicens/late:1", context }));
    expect(last).toMatchObject({ kind: "failed", error: { code: "NOT_FOUND" } });
    // Bob's upload sweeps every account's expired contexts (in the background: poll, bounded).
    await upload(env, env.bob, { Dockerfile: "FROM scratch\n" });
    for (let i = 0; i < 100 && filesNamed(context).length > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(filesNamed(context)).toEqual([]);
  });
});

describe("builds that crowd the server", () => {
  /** Hold a build slot for `account` until the returned function is called. */
  function holdSlot(account: string): () => void {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    void inBuildSlot(account, () => gate);
    return release;
  }

  async function queuedBuild(client: BerthClient, who: typeof env.alice, target: string) {
    const context = await upload(env, who, { Dockerfile: "FROM scratch\nENV A=1\n" });
    let seen!: (m: BuildMessage) => void;
    const queued = new Promise<BuildMessage>((resolve) => {
      seen = resolve;
    });
    const done = followBuild(client, { target, context }, rid("queued"), (m) => {
      if (m.kind === "queued") seen(m);
    });
    return { queued, done };
  }

  it("runs one account's builds one at a time, shows the waiting one as queued, and lets other accounts through", async () => {
    setBuildLimits({ concurrentBuilds: 2, concurrentBuildsPerAccount: 1 });
    const release = holdSlot(env.alice.account.id);
    const waiting = await queuedBuild(alice, env.alice, "alicens/queued:1");
    const queued = await waiting.queued;
    expect(queued).toMatchObject({ kind: "queued", ahead: 0 });
    expect((queued as { message: string }).message).toMatch(
      /^queued: your account already runs 1 build \(at most 1 at once\)/,
    );
    // Bob is not held behind Alice's line.
    const context = await upload(env, env.bob, { Dockerfile: "FROM scratch\n" });
    expect(outcome(await followBuild(bob, { target: "bobns/free:1", context })).kind).toBe("done");
    release();
    const messages = await waiting.done;
    expect(messages.map((m) => m.kind)).toEqual([
      "queued",
      "start",
      "step",
      "info",
      "step",
      "stored",
      "done",
    ]);
  });

  it("runs at most the process's number of builds, whoever asks", async () => {
    setBuildLimits({ concurrentBuilds: 1, concurrentBuildsPerAccount: 1 });
    const release = holdSlot(env.bob.account.id);
    const waiting = await queuedBuild(alice, env.alice, "alicens/queued:2");
    const queued = await waiting.queued;
    expect((queued as { message: string }).message).toMatch(
      /^queued: the server runs 1 builds \(at most 1 at once\), 0 waiting before this one/,
    );
    release();
    expect(outcome(await waiting.done).kind).toBe("done");
  });
});

describe("build args", () => {
  it("never reach a log, an event, /metrics or a table", async () => {
    const value = `build-arg-secret-${Date.now().toString(36)}-Zq9`;
    const requestId = rid("args");
    const messages = await buildFrom(
      { Dockerfile: "FROM scratch\nARG TOKEN\nLABEL has-token=yes\n" },
      "alicens/args:1",
      { buildArgs: { TOKEN: value } },
      requestId,
    );
    expect(outcome(messages).kind).toBe("done");
    // A failing build with the arg too: its refusal is logged.
    await buildFrom({ Dockerfile: "FROM scratch\nARG TOKEN\nCOPY $TOKEN /x\n" }, "alicens/args:2", {
      buildArgs: { TOKEN: value },
    });
    const places = await secretPlaces(env);
    // The request was logged (by path), so the scan looked at the right lines.
    expect(env.logs.join("\n")).toMatch(/"url":"\/trpc\/image\.build"/);
    for (const [where, text] of places) {
      for (const form of [
        value,
        encodeURIComponent(value),
        Buffer.from(value).toString("base64"),
      ]) {
        expect(text.includes(form), `the build arg is in ${where}`).toBe(false);
      }
    }
  }, 60_000);
});
