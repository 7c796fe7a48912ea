import { version } from "uuid";
import { describe, expect, it } from "vitest";
import { eventId } from "../src/event-id";

// Event ids come from a pool of random bytes (event-id.ts): what uuid's v7 promised must hold.

describe("eventId", () => {
  it("gives distinct UUIDv7s in increasing order, across refills of its pool", () => {
    const ids = Array.from({ length: 1000 }, () => eventId());
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => version(id) === 7)).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    // Their timestamp is now's.
    const msecs = Number.parseInt(ids.at(-1)!.replace(/-/g, "").slice(0, 12), 16);
    expect(Math.abs(msecs - Date.now())).toBeLessThan(60_000);
  });
});
