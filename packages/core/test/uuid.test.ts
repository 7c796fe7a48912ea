import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isUuidV7, uuidV7, uuidV7Time } from "../src/index";

describe("UUIDv7", () => {
  it("lays out time, version and variant", () => {
    const id = uuidV7(0x0189_0a5d_ac96, new Uint8Array(10).fill(0xff));
    expect(id).toBe("01890a5d-ac96-7fff-bfff-ffffffffffff");
    expect(isUuidV7(id)).toBe(true);
    expect(uuidV7Time(id)).toBe(0x0189_0a5d_ac96);
  });

  it("always yields a v7 id carrying its time, ordered by time (property)", () => {
    const ms = fc.integer({ min: 0, max: 2 ** 48 - 1 });
    const bytes = fc.uint8Array({ minLength: 10, maxLength: 16 });
    fc.assert(
      fc.property(ms, ms, bytes, bytes, (t1, t2, r1, r2) => {
        const a = uuidV7(t1, r1);
        const b = uuidV7(t2, r2);
        expect(isUuidV7(a)).toBe(true);
        expect(uuidV7Time(a)).toBe(t1);
        if (t1 < t2) expect(a < b).toBe(true);
      }),
    );
  });

  it("rejects other versions and bad inputs", () => {
    expect(isUuidV7("01890a5d-ac96-474b-bcce-b302099a8057")).toBe(false);
    expect(isUuidV7("01890a5d-ac96-774b-ccce-b302099a8057")).toBe(false);
    expect(() => uuidV7(-1, new Uint8Array(10))).toThrow(/48-bit/);
    expect(() => uuidV7(1, new Uint8Array(9))).toThrow(/10 random bytes/);
  });
});
