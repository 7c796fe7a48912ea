import { describe, expect, it } from "vitest";
import { CONTENDED_MS, KnownLogs, type LogAppend } from "../src/log/append";

const logs = (account: string, was: number, size: number): LogAppend["logs"] => ({
  account: [account],
  was: [was],
  wasFrontier: [""],
  size: [size],
  frontier: ["00".repeat(32)],
});

describe("KnownLogs", () => {
  it("a log another process grew is not remembered until the contention window has passed", () => {
    let now = 1_000;
    const known = new KnownLogs(() => now);
    known.record("us", logs("acct", 0, 5));
    expect(known.get("us", ["acct"])?.get("acct")?.size).toBe(5);
    known.refused("us", ["acct"]);
    expect(known.get("us", ["acct"]), "forgotten on refusal").toBeUndefined();
    // The locked placement found the log at 8, not at the remembered 5: another process grew it.
    known.contend("us", logs("acct", 5, 10), logs("acct", 8, 13));
    known.record("us", logs("acct", 8, 13));
    expect(known.get("us", ["acct"]), "not remembered inside the window").toBeUndefined();
    now += CONTENDED_MS + 1;
    known.record("us", logs("acct", 13, 20));
    expect(known.get("us", ["acct"])?.get("acct")?.size, "remembered after it").toBe(20);
    expect(known.refusedWrites).toBe(1);
  });

  it("a refusal for a redelivery alone (the log where it was remembered) does not hold the log back", () => {
    const known = new KnownLogs(() => 0);
    known.refused("us", ["acct"]);
    known.contend("us", logs("acct", 5, 10), logs("acct", 5, 9));
    known.record("us", logs("acct", 5, 9));
    expect(known.get("us", ["acct"])?.get("acct")?.size).toBe(9);
    // Every event of the batch stored already: the locked placement grew no log.
    const none = { account: [], was: [], wasFrontier: [], size: [], frontier: [] };
    known.refused("us", ["acct"]);
    known.contend("us", logs("acct", 9, 12), none);
    known.record("us", logs("acct", 9, 11));
    expect(known.get("us", ["acct"])?.get("acct")?.size).toBe(11);
  });

  it("contention is per region and account", () => {
    const known = new KnownLogs(() => 0);
    known.contend("us", logs("acct", 5, 10), logs("acct", 8, 13));
    known.record("eu", logs("acct", 0, 3));
    known.record("us", logs("other", 0, 3));
    expect(known.get("eu", ["acct"])?.get("acct")?.size).toBe(3);
    expect(known.get("us", ["other"])?.get("other")?.size).toBe(3);
    expect(known.get("us", ["acct"])).toBeUndefined();
  });
});

describe("KnownLogs' memory", () => {
  it("remembers at most 4,096 contended logs: the oldest contention is dropped first", () => {
    const known = new KnownLogs(() => 0);
    for (let i = 0; i <= 4096; i++) {
      known.contend("us", logs(`acct${i}`, 5, 10), logs(`acct${i}`, 8, 13));
    }
    known.record("us", logs("acct0", 13, 20));
    known.record("us", logs("acct1", 13, 20));
    expect(known.get("us", ["acct0"]), "the oldest contention was dropped").toBeDefined();
    expect(known.get("us", ["acct1"]), "a younger one holds").toBeUndefined();
  });
});
