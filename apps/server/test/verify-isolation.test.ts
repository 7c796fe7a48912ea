import { parseTlogProof } from "@berth/tlog";
import { beforeAll, describe, expect, it } from "vitest";
import { errorInfo, forFile, on, rejects, rid } from "./helpers";
import { startTrackerBed } from "./tracker-bed";

// Issue 16's attacks on log.* through tRPC, beside log.test.ts (ids, indexes, an account
// field): bob, knowing alice's log sizes, asks for checkpoints, ranges and proofs of those
// sizes, in his region and others, and gets only his own log or "not found" — never a note,
// hash or entry of alice's. A registry token (a narrower credential) and a wrong key get
// nothing at all.

const bed = await forFile(startTrackerBed());
const { t, tracker, alice, bob, deliver, checkpointOf } = bed;
const client = (apiKey: string) => bed.client({ apiKey });
const ALICE_EVENTS = 5;
let aliceNotes: string[] = [];

beforeAll(async () => {
  for (let i = 0; i < ALICE_EVENTS; i++) {
    const r = rid(`alice-${i}`);
    await client(alice.apiKey).namespace.create.mutate({ name: `alice-${i}` }, on(r));
    await deliver(r);
  }
  const r = rid("bob");
  await client(bob.apiKey).namespace.create.mutate({ name: "bob-a" }, on(r));
  await deliver(r);
  await checkpointOf(bob, 1);
  await checkpointOf(alice, ALICE_EVENTS);
  aliceNotes = (
    await t.sql<{ note: string }[]>`
      select note from tracker.checkpoints where account_id = ${alice.account.id}`
  ).map((n) => n.note);
  expect(aliceNotes.length).toBeGreaterThan(0);
}, 180_000);

/** Nothing of alice's in what bob got: her account id, her notes, her signatures. */
function nothingOfAlices(got: unknown) {
  const text = JSON.stringify(got);
  expect(text).not.toContain(alice.account.id);
  for (const note of aliceNotes) {
    const signature = note.split("\n").at(-2) ?? "";
    expect(text).not.toContain(signature.slice(2));
  }
}

describe("log.* for another tenant who knows alice's log sizes", () => {
  it("a checkpoint of alice's size is bob's own or not found", async () => {
    const bobs = client(bob.apiKey);
    const latest = await bobs.log.checkpoint.query();
    expect(latest.checkpoint.split("\n")[0]).toBe(`berth.tracker/us-south/${bob.account.id}`);
    nothingOfAlices(latest);
    const sized = await rejects(bobs.log.checkpoint.query({ size: ALICE_EVENTS }));
    expect(errorInfo(sized).code).toBe("NOT_FOUND");
    nothingOfAlices(sized.message);
  });

  it("ranges, entries and proofs of alice's sizes give bob nothing of hers", async () => {
    const bobs = client(bob.apiKey);
    for (const call of [
      () => bobs.log.range.query({ start: 0, end: ALICE_EVENTS, size: ALICE_EVENTS }),
      () => bobs.log.range.query({ start: 2, end: 3 }),
      () => bobs.log.consistency.query({ from: 1, to: ALICE_EVENTS }),
      () => bobs.log.inclusion.query({ index: 3, size: ALICE_EVENTS }),
    ]) {
      const e = await rejects(call());
      expect(errorInfo(e).code, e.message).toBe("NOT_FOUND");
      nothingOfAlices(e.message);
    }
    const { entries } = await bobs.log.entries.query({ start: 0, end: ALICE_EVENTS });
    expect(entries).toHaveLength(1);
    nothingOfAlices(entries);
    // Index 0 exists in both logs: bob's proof is against bob's checkpoint.
    const { proof } = await bobs.log.inclusion.query({ index: 0 });
    const parsed = parseTlogProof(proof);
    expect(parsed?.checkpoint.split("\n")[0]).toBe(`berth.tracker/us-south/${bob.account.id}`);
    nothingOfAlices(proof);
  });

  it("naming another region reads bob's (empty) log there, never alice's", async () => {
    const bobs = client(bob.apiKey);
    for (const region of ["eu-central", "ap-south"]) {
      const e = await rejects(bobs.log.checkpoint.query({ region }));
      expect(["NOT_FOUND", "BAD_GATEWAY"]).toContain(errorInfo(e).code);
      nothingOfAlices(e.message);
      expect(e.message).not.toContain(tracker.url);
    }
    const hostile = await rejects(bobs.log.checkpoint.query({ region: "../us-south" }));
    expect(errorInfo(hostile).code).toBe("BAD_REQUEST");
  });

  it("a registry token or a wrong key gets nothing", async () => {
    const { secret } = await client(alice.apiKey).registrytoken.create.mutate({ access: "read" });
    for (const key of [secret, "not-a-key", `${alice.apiKey}x`]) {
      for (const call of [
        () => client(key).log.checkpoint.query(),
        () => client(key).log.entries.query({ start: 0, end: 1 }),
        () => client(key).log.inclusion.query({ index: 0 }),
        () => client(key).log.consistency.query({ from: 1, to: 2 }),
      ]) {
        const e = await rejects(call());
        expect(errorInfo(e).code).toBe("UNAUTHORIZED");
        nothingOfAlices(e.message);
      }
    }
  });
});
