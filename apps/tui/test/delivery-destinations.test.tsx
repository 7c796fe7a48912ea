import { randomUUID } from "node:crypto";
import { deliveries, deliveryDestinations } from "@berth/db";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { aliceApp } from "./alice-app";
import { KEY, renderScreen, type Screen } from "./ink";
import { type Stack, startStack } from "./stack";

// The delivery screen with destinations beside the tracker (issue 17), with
// ink-testing-library against a real server: each destination's dead letters, and a redrive
// that goes to one destination only. No worker runs, so the dead letters stay put.

let stack: Stack;
const open: Screen[] = [];
beforeAll(async () => {
  stack = await startStack({ worker: false });
}, 180_000);
afterAll(async () => stack?.stop());
afterEach(() => {
  for (const s of open.splice(0)) s.unmount();
});

function app(): Screen {
  const s = renderScreen(aliceApp(stack, "delivery"));
  open.push(s);
  return s;
}

/** A dead letter of `destination` for `account`, parked with `reason`. */
async function parkDead(destination: string, account: string, reason: string): Promise<string> {
  const id = randomUUID();
  const action = "container-registry.namespace.create";
  await stack.t.db.insert(deliveries).values({
    destination,
    eventId: id,
    accountId: account,
    region: "us-south",
    action,
    payload: { id, action },
    status: "dead",
    attempts: 25,
    lastError: reason,
    deadAt: new Date(),
  });
  return id;
}

const statusOf = async (destination: string, id: string) => {
  const [r] = await stack.t.sql<{ status: string; attempts: number }[]>`
    select status, attempts from deliveries where destination = ${destination} and event_id = ${id}`;
  return r;
};

describe("delivery screen, per destination", () => {
  it("lists each destination's dead letters and redrives one destination's, never another's or another tenant's", async () => {
    await stack.t.db.insert(deliveryDestinations).values([
      { name: "siem", ordered: true },
      { name: "bus", ordered: true },
    ]);
    const alice = stack.alice.account.id;
    const siem1 = await parkDead("siem", alice, "syslog receiver did not close within 10000 ms");
    const siem2 = await parkDead("siem", alice, "ECONNREFUSED: connect ECONNREFUSED");
    const bus1 = await parkDead("bus", alice, "cannot connect to nats://127.0.0.1:4222");
    // Another tenant's dead letter, in the same destination: never shown, never redriven.
    const bobs = await parkDead("siem", stack.bob.account.id, "bob's own failure");

    const s = app();
    await s.waitFor(/tracker 0\/0 · bus 0\/1 · siem 0\/2/);
    await s.waitFor("d destination");
    await s.waitFor("Dead letters · tracker");
    await s.waitFor("No dead letters for tracker");

    // Every dead letter of bus: the account's one, and nothing of siem's.
    await s.press("d");
    await s.waitFor("Dead letters · bus");
    await s.waitFor(/namespace\.create\s+25\s+cannot connect to nats/);
    expect(s.frame()).not.toContain("ECONNREFUSED");
    await s.press("A");
    await s.waitFor("Send all 1 dead event(s) of the account to bus again?");
    await s.press("y");
    await s.waitFor("✓ 1 event(s) sent back for delivery to bus");
    expect(await statusOf("bus", bus1)).toEqual({ status: "pending", attempts: 0 });
    expect((await statusOf("siem", siem1))?.status).toBe("dead");
    expect((await statusOf("siem", siem2))?.status).toBe("dead");
    await s.waitFor(/bus 1\/0/);

    await s.press("d");
    await s.waitFor("Dead letters · siem");
    await s.waitFor(/namespace\.create\s+25\s+syslog receiver did not close/);
    expect(s.frame()).toContain("ECONNREFUSED");
    expect(s.frame()).not.toContain("bob's own failure");
    expect(s.frame()).not.toContain("cannot connect to nats");

    // The first row (oldest first), marked and redriven: to siem, that event only.
    await s.press(KEY.space);
    await s.waitFor(new RegExp(`● ${siem1.slice(0, 8)}`));
    await s.press("R");
    await s.waitFor(`Send event ${siem1} to siem again?`);
    await s.press("y");
    await s.waitFor("✓ 1 event(s) sent back for delivery to siem");
    expect(await statusOf("siem", siem1)).toEqual({ status: "pending", attempts: 0 });
    expect((await statusOf("siem", siem2))?.status).toBe("dead");
    expect((await statusOf("siem", bobs))?.status).toBe("dead");
    await s.waitFor(/siem 1\/1/);

    // Around again to the tracker.
    await s.press("d");
    await s.waitFor("Dead letters · tracker");
  });
});
