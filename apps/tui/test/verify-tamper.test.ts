import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  decodeVerifierKey,
  encodeSigningKey,
  generateSigningKey,
  openCheckpoint,
  rootOfLeaves,
  signCheckpoint,
} from "@berth/tlog";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BERTH } from "./cli";
import { INGESTION_KEY, type Stack, startStack, until } from "./stack";

// Issue 16's proof through the user's tool: a live stack (server, worker, tracker on a test
// database), events made with the CLI and delivered to the tracker, then the tracker's tables
// tampered with directly, as an operator could; each time the real `berth events-verify`
// process must fail and name the index and event id (or the two checkpoint sizes). Untouched,
// the log verifies. The bundle exported at the start is verified at the end, offline, from
// another folder and HOME with the stack stopped.
// Over 400 lines on purpose: one live stack serves the whole file and the cases share its
// state (the key pinned first, the bundle exported first and verified offline at the end);
// split, each part would start a stack of its own on an already busy machine.

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The built `berth` in its own process, as a user runs it (exit code, stdout, stderr). */
function berth(args: string[], env: Record<string, string>, cwd?: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [BERTH, ...args],
      { env: { PATH: process.env.PATH, ...env }, timeout: 180_000, ...(cwd ? { cwd } : {}) },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
        if (code === -1) return reject(new Error(`berth ${args.join(" ")}: ${error?.message}`));
        resolve({ code, stdout, stderr });
      },
    );
    child.stdin?.end();
  });
}

let stack: Stack;
let stopped = false;
const home = (name: string) => mkdtempSync(join(tmpdir(), `berth-verify-${name}-`));
/** A user of the stack: URL, key and a config folder of their own (where the trust is pinned). */
const userEnv = (apiKey: string, dir = home("user")) => ({
  BERTH_URL: stack.url,
  BERTH_API_KEY: apiKey,
  HOME: dir,
  BERTH_CONFIG: join(dir, "config.json"),
});
let alice: ReturnType<typeof userEnv>;
let bob: ReturnType<typeof userEnv>;
const verify = (env: Record<string, string>, ...args: string[]) =>
  berth(["events-verify", ...args], env);
/** A failed verification: exit 1 and the named problems on stdout. */
function failed(r: Run, ...named: (string | RegExp)[]) {
  expect(r.code, `${r.stdout}${r.stderr}`).toBe(1);
  expect(r.stdout).toContain("VERIFICATION FAILED");
  for (const n of named) {
    if (typeof n === "string") expect(r.stdout).toContain(n);
    else expect(r.stdout).toMatch(n);
  }
}
function passed(r: Run, text: string | RegExp) {
  expect(r.code, `${r.stdout}${r.stderr}`).toBe(0);
  if (typeof text === "string") expect(r.stdout).toContain(text);
  else expect(r.stdout).toMatch(text);
}

const origin = (account: string) => `berth.tracker/us-south/${account}`;
const aliceId = () => stack.alice.account.id;
const ALICE_EVENTS = 6;

async function act(env: Record<string, string>, ...names: string[]) {
  for (const name of names) {
    const r = await berth(["namespace-add", name], env);
    expect(r.code, r.stderr).toBe(0);
  }
}

/** Waits until the account's log holds `size` events and a signed checkpoint covers them all. */
async function settled(account: string, size: number) {
  await until(
    async () => {
      const [row] = await stack.t.sql<{ size: number; signed: number | null }[]>`
        select l.size::int, (select max(size)::int from tracker.checkpoints c
                              where c.account_id = l.account_id and c.region = l.region) as signed
          from tracker.logs l where l.account_id = ${account} and l.region = 'us-south'`;
      return row?.size === size && row.signed === size;
    },
    `a checkpoint of size ${size} for ${account}\n${stack.logs()}`,
    120_000,
  );
}

const at = async (account: string, index: number) => {
  const [row] = await stack.t.sql<{ id: string; ms: number }[]>`
    select id::text, (extract(epoch from event_time) * 1000)::float8 as ms from tracker.events
     where account_id = ${account} and region = 'us-south' and log_index = ${index}`;
  if (!row) throw new Error(`no event at index ${index} of ${account}`);
  return { id: row.id, time: new Date(Math.round(row.ms)).toISOString() };
};

let verifierKey = "";
let bundleFile = "";

beforeAll(async () => {
  stack = await startStack();
  alice = userEnv(stack.alice.apiKey);
  bob = userEnv(stack.bob.apiKey);
  // In two steps, so that the tracker has signed a checkpoint of size 4 as well (the rollback).
  await act(alice, "alice-0", "alice-1", "alice-2", "alice-3");
  await settled(aliceId(), 4);
  await act(alice, "alice-4", "alice-5");
  await act(bob, "bob-0", "bob-1", "bob-2");
  await settled(aliceId(), ALICE_EVENTS);
  await settled(stack.bob.account.id, 3);
}, 600_000);

afterAll(async () => {
  if (!stopped) await stack?.stop();
});

describe("berth events-verify against a live tracker whose tables are tampered with", {
  timeout: 300_000,
}, () => {
  it("an untouched log verifies; the key is pinned on first use; the bundle is exported", async () => {
    const first = await verify(alice);
    passed(
      first,
      `verified ${ALICE_EVENTS} events, checkpoint size ${ALICE_EVENTS}, origin ${origin(aliceId())}`,
    );
    expect(first.stderr).toContain("trusting the tracker key of us-south on first use");
    const trust = JSON.parse(readFileSync(join(alice.HOME, "log-trust.json"), "utf8")) as {
      keys: Record<string, string>;
      checkpoints: Record<string, string>;
    };
    verifierKey = trust.keys["us-south"] as string;
    expect(verifierKey).toMatch(/^berth\.tracker\+[0-9a-f]{8}\+/);
    expect(trust.checkpoints[origin(aliceId())]).toContain(`\n${ALICE_EVENTS}\n`);
    const again = await verify(alice);
    passed(again, `verified ${ALICE_EVENTS} events`);
    expect(again.stderr).not.toContain("first use");

    bundleFile = join(home("export"), "alice-log.json");
    const exported = await berth(["events-export", "--bundle", bundleFile], alice);
    passed(exported, `wrote ${ALICE_EVENTS} events (checkpoint size ${ALICE_EVENTS}`);
  });

  it("one field of one event changed: named by index and id", async () => {
    const { id } = await at(aliceId(), 2);
    await stack.t
      .sql`update tracker.events set payload = jsonb_set(payload, '{outcome}', '"failure"') where id = ${id}`;
    failed(await verify(alice), `event ${id} at index 2 was changed`);
    await stack.t
      .sql`update tracker.events set payload = jsonb_set(payload, '{outcome}', '"success"') where id = ${id}`;
    passed(await verify(alice), `verified ${ALICE_EVENTS} events`);
  });

  it("one event deleted: the index named missing", async () => {
    const { id } = await at(aliceId(), 3);
    await stack.t.sql`create table tracker.kept as select * from tracker.events where id = ${id}`;
    await stack.t.sql`delete from tracker.events where id = ${id}`;
    failed(await verify(alice), "the event at index 3 is missing");
    await stack.t
      .sql`insert into tracker.events overriding system value select * from tracker.kept`;
    await stack.t.sql`drop table tracker.kept`;
    passed(await verify(alice), `verified ${ALICE_EVENTS} events`);
  });

  it("a forged event inserted, at a used index or with none: named by index and id", async () => {
    const forged = randomUUID();
    const [real] = await stack.t.sql<{ payload: Record<string, unknown> }[]>`
      select payload from tracker.events where account_id = ${aliceId()} and log_index = 1`;
    const payload = { ...real!.payload, id: forged, message: "forged: namespace create" };
    await stack.t
      .sql`insert into tracker.events (id, account_id, region, event_time, action, outcome, severity,
                        initiator_id, initiator_name, target_id, target_name, message, payload, log_index)
                      select ${forged}, account_id, region, event_time, action, outcome, severity, initiator_id,
                             initiator_name, target_id, target_name, ${payload.message as string},
                             ${JSON.stringify(payload)}::jsonb, null
                        from tracker.events where account_id = ${aliceId()} and log_index = 1`;
    failed(
      await verify(alice),
      `event ${forged} is shown by the tracker but is not in the log (no index)`,
    );
    // At index 1 beside the real one: the unique index is part of what an operator can drop.
    await stack.t.sql`drop index tracker.events_log_index_idx`;
    await stack.t.sql`update tracker.events set log_index = 1 where id = ${forged}`;
    failed(await verify(alice), `event ${forged} at index 1 was inserted (not in the log)`);
    await stack.t.sql`delete from tracker.events where id = ${forged}`;
    await stack.t
      .sql`create unique index events_log_index_idx on tracker.events (account_id, region, log_index)`;
    passed(await verify(alice), `verified ${ALICE_EVENTS} events`);
  });

  it("two events swapped: each named with the index the log holds it at", async () => {
    const [x, y] = [await at(aliceId(), 0), await at(aliceId(), 1)];
    const swap = () =>
      stack.t.sql.begin(async (tx) => {
        await tx`update tracker.events set log_index = -1 where id = ${x.id}`;
        await tx`update tracker.events set log_index = 0 where id = ${y.id}`;
        await tx`update tracker.events set log_index = 1 where id = ${x.id}`;
      });
    await swap();
    failed(
      await verify(alice),
      `event ${y.id} at index 0 is out of order: the log holds it at index 1`,
      `event ${x.id} at index 1 is out of order: the log holds it at index 0`,
    );
    await stack.t.sql.begin(async (tx) => {
      await tx`update tracker.events set log_index = -1 where id = ${y.id}`;
      await tx`update tracker.events set log_index = 0 where id = ${x.id}`;
      await tx`update tracker.events set log_index = 1 where id = ${y.id}`;
    });
    passed(await verify(alice), `verified ${ALICE_EVENTS} events`);
  });

  it("a checkpoint replaced by one signed with another key fails its signature", async () => {
    const [row] = await stack.t.sql<{ size: number; note: string }[]>`
      select size::int, note from tracker.checkpoints where account_id = ${aliceId()} order by size desc limit 1`;
    const opened = openCheckpoint(row!.note, decodeVerifierKey(verifierKey));
    expect(opened.ok).toBe(true);
    const other = generateSigningKey("berth.tracker");
    const forgedNote = signCheckpoint(opened.ok ? opened.checkpoint : (null as never), other);
    await stack.t
      .sql`update tracker.checkpoints set note = ${forgedNote} where account_id = ${aliceId()} and size = ${row!.size}`;
    failed(
      await verify(alice),
      /checkpoint signature: no signature by berth\.tracker \(key id [0-9a-f]{8}\)/,
    );
    await stack.t
      .sql`update tracker.checkpoints set note = ${row!.note} where account_id = ${aliceId()} and size = ${row!.size}`;
    passed(await verify(alice), `verified ${ALICE_EVENTS} events`);
  });

  it("--from/--to verifies the events of a time range, proven against the signed checkpoint", async () => {
    const [from, to] = [(await at(aliceId(), 1)).time, (await at(aliceId(), 3)).time];
    const range = ["--from", from, "--to", to];
    passed(
      await verify(alice, ...range),
      `verified 3 events from ${from} to ${to} (indexes [1, 4)), checkpoint size ${ALICE_EVENTS}`,
    );
    // A change inside the range is named; one outside it is not this range's concern.
    const inside = await at(aliceId(), 2);
    await stack.t
      .sql`update tracker.events set payload = jsonb_set(payload, '{severity}', '"critical"') where id = ${inside.id}`;
    failed(await verify(alice, ...range), `event ${inside.id} at index 2 was changed`);
    await stack.t
      .sql`update tracker.events set payload = jsonb_set(payload, '{severity}', '"normal"') where id = ${inside.id}`;
    const outside = await at(aliceId(), 5);
    await stack.t
      .sql`update tracker.events set payload = jsonb_set(payload, '{severity}', '"critical"') where id = ${outside.id}`;
    passed(await verify(alice, ...range), "verified 3 events");
    failed(await verify(alice), `event ${outside.id} at index 5 was changed`);
    await stack.t
      .sql`update tracker.events set payload = jsonb_set(payload, '{severity}', '"normal"') where id = ${outside.id}`;
    passed(await verify(alice), `verified ${ALICE_EVENTS} events`);
  });

  it("a log rolled back to an older checkpoint (newer ones withheld): the log shrank", async () => {
    await stack.t.sql`create table tracker.kept as select * from tracker.checkpoints
                       where account_id = ${aliceId()} and size > 4`;
    await stack.t.sql`delete from tracker.checkpoints where account_id = ${aliceId()} and size > 4`;
    failed(
      await verify(alice),
      `checkpoints of size ${ALICE_EVENTS} and 4 are inconsistent: the log shrank`,
    );
    await stack.t.sql`insert into tracker.checkpoints select * from tracker.kept`;
    await stack.t.sql`drop table tracker.kept`;
    passed(await verify(alice), `verified ${ALICE_EVENTS} events`);
  });

  it("a log rolled back and regrown differently, every checkpoint validly signed: the pinned checkpoint catches it", async () => {
    const account = stack.bob.account.id;
    passed(await verify(bob), `verified 3 events, checkpoint size 3, origin ${origin(account)}`);
    // The operator keeps the first event, drops the rest and the tree, and lets the log grow
    // again from there: a history the tracker signs as readily as the real one.
    const [kept] = await stack.t.sql<{ payload: { message: string } }[]>`
      select payload from tracker.events where account_id = ${account} and log_index = 0`;
    await stack.t.sql.begin(async (tx) => {
      for (const table of ["events", "log_tiles", "checkpoints", "logs"])
        await tx.unsafe(`delete from tracker.${table} where account_id = $1`, [account]);
    });
    const res = await fetch(`${stack.trackerUrl}/regions/us-south/logs/ingest`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Basic ${Buffer.from(`${INGESTION_KEY}:`).toString("base64")}`,
      },
      body: JSON.stringify({
        lines: [
          {
            timestamp: Date.now(),
            line: kept!.payload.message,
            app: "container-registry",
            level: "INFO",
            meta: kept!.payload,
          },
        ],
      }),
    });
    expect(res.status, await res.text()).toBe(200);
    await act(bob, "bob-x", "bob-y", "bob-z");
    await settled(account, 4);
    failed(
      await verify(bob),
      "checkpoints of size 3 and 4 are inconsistent: the consistency proof does not verify (history rewritten or forked)",
    );
    // Nothing remembered after a failure: it fails again. A user who never saw the old
    // history cannot tell (that is what the pinned checkpoint is for).
    failed(await verify(bob), "checkpoints of size 3 and 4 are inconsistent");
    passed(await verify(userEnv(stack.bob.apiKey)), "verified 4 events, checkpoint size 4");
  });

  it("a changed signing key is refused, pinned or given with --key", async () => {
    process.env.BERTH_TRACKER_SIGNING_KEY = encodeSigningKey(generateSigningKey("berth.tracker"));
    try {
      await stack.restartTracker();
      failed(
        await verify(alice),
        `THE TRACKER'S KEY CHANGED: it now serves berth.tracker+`,
        `but the pinned key is ${verifierKey}`,
      );
      failed(
        await verify(userEnv(stack.alice.apiKey), "--key", verifierKey),
        `but --key is ${verifierKey}`,
      );
    } finally {
      delete process.env.BERTH_TRACKER_SIGNING_KEY;
      await stack.restartTracker();
    }
    passed(await verify(alice), `verified ${ALICE_EVENTS} events`);
  });
});

describe("offline: the exported bundle on a machine without the server", {
  timeout: 120_000,
}, () => {
  let elsewhere: string;
  let env: Record<string, string>;
  const offline = (file: string, ...args: string[]) =>
    berth(["events-verify", "--bundle", file, "--key", verifierKey, ...args], env, elsewhere);
  const write = (name: string, bundle: unknown) => {
    writeFileSync(join(elsewhere, name), JSON.stringify(bundle));
    return name;
  };
  type Bundle = {
    origin: string;
    checkpoint: string;
    start: number;
    end: number;
    entries: { index: number; id: string; leaf: string | null; event: Record<string, unknown> }[];
    proof: string[];
  };
  let bundle: Bundle;
  let bobBundle: Bundle;

  beforeAll(async () => {
    // Bob's log, exported while the stack runs, for the splicing attacks below.
    const bobFile = join(home("export"), "bob-log.json");
    passed(await berth(["events-export", "--bundle", bobFile], bob), "wrote 4 events");
    bobBundle = JSON.parse(readFileSync(bobFile, "utf8")) as Bundle;
    await stack.stop();
    stopped = true;
    elsewhere = home("offline");
    env = { HOME: home("offline-home"), BERTH_CONFIG: join(elsewhere, "none.json") };
    copyFileSync(bundleFile, join(elsewhere, "log.json"));
    bundle = JSON.parse(readFileSync(bundleFile, "utf8")) as Bundle;
  }, 120_000);

  it("verifies with the stack stopped, from another folder and HOME, and names its origin", async () => {
    passed(
      await offline("log.json"),
      `verified ${ALICE_EVENTS} events, checkpoint size ${ALICE_EVENTS}, origin ${origin(aliceId())}`,
    );
    passed(await offline("log.json", "--origin", origin(aliceId())), "verified");
  });

  it("a tampered bundle fails naming the event", async () => {
    const e = bundle.entries[4]!;
    const changed = {
      ...bundle,
      entries: bundle.entries.map((x) =>
        x.index === 4 ? { ...x, event: { ...x.event, outcome: "failure" } } : x,
      ),
    };
    failed(await offline(write("changed.json", changed)), `event ${e.id} at index 4 was changed`);
    const dropped = { ...bundle, entries: bundle.entries.filter((x) => x.index !== 2) };
    failed(await offline(write("dropped.json", dropped)), "the event at index 2 is missing");
  });

  it("a bundle crafted to pass does not", async () => {
    // A genuine-looking proof of [0, 2) for a tree of 5 (what the tracker would give for size
    // 5), offered with the checkpoint of the whole log (size 6).
    const leaves = bundle.entries.map((x) => Buffer.from(x.leaf as string, "base64"));
    const prefix = {
      ...bundle,
      end: 2,
      entries: bundle.entries.slice(0, 2),
      proof: [rootOfLeaves(leaves.slice(2, 4)), rootOfLeaves(leaves.slice(4, 5))].map((h) =>
        h.toString("base64"),
      ),
    };
    failed(
      await offline(write("prefix.json", prefix)),
      `leaves [0, 2) do not give the root of size ${ALICE_EVENTS}`,
    );
    // The checkpoint signed by another key (same name, the attacker's key).
    const cp = openCheckpoint(bundle.checkpoint, decodeVerifierKey(verifierKey));
    if (!cp.ok) throw new Error(cp.reason);
    const resigned = {
      ...bundle,
      checkpoint: signCheckpoint(cp.checkpoint, generateSigningKey("berth.tracker")),
    };
    failed(
      await offline(write("resigned.json", resigned)),
      /checkpoint signature: no signature by berth\.tracker/,
    );
    // Bob's genuine checkpoint with alice's events; and bob's whole log passed off as alice's.
    const bobCheckpoint = { ...bundle, checkpoint: bobBundle.checkpoint };
    failed(
      await offline(write("bob-cp.json", bobCheckpoint)),
      `the checkpoint is for ${bobBundle.origin}, not ${origin(aliceId())}`,
    );
    failed(
      await offline(write("bob-as-alice.json", bobBundle), "--origin", origin(aliceId())),
      `the bundle is the log of ${bobBundle.origin}, not ${origin(aliceId())}`,
    );
    // Another region's origin for alice's log: the signed note says us-south.
    const otherRegion = { ...bundle, origin: `berth.tracker/eu-central/${aliceId()}` };
    failed(
      await offline(write("region.json", otherRegion)),
      `the checkpoint is for ${origin(aliceId())}, not berth.tracker/eu-central/${aliceId()}`,
    );
    // One of bob's events (with the leaf bob's tree holds for it) spliced in at index 2.
    const theirs = bobBundle.entries[1]!;
    const spliced = {
      ...bundle,
      entries: bundle.entries.map((x) => (x.index === 2 ? { ...theirs, index: 2 } : x)),
    };
    failed(
      await offline(write("spliced.json", spliced)),
      `event ${theirs.id} at index 2 belongs to account ${stack.bob.account.id}, not ${aliceId()}`,
      new RegExp(
        `event ${theirs.id} at index 2 (was changed|was inserted)|does not match its checkpoint`,
      ),
    );
  });
});
