import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { EVENT_TIME_PATTERN, formatEventTime, parseEventTime } from "../src/index";

describe("event time", () => {
  it("formats UTC with hundredths and +0000", () => {
    expect(formatEventTime(new Date("2019-06-01T12:34:56.789Z"))).toBe(
      "2019-06-01T12:34:56.78+0000",
    );
    expect(formatEventTime(new Date("2019-06-01T14:34:56.005+02:00"))).toBe(
      "2019-06-01T12:34:56.00+0000",
    );
  });

  it("truncates instead of rounding so the minute never rolls over", () => {
    expect(formatEventTime(new Date("2019-12-31T23:59:59.999Z"))).toBe(
      "2019-12-31T23:59:59.99+0000",
    );
  });

  it("refuses dates it cannot express", () => {
    expect(() => formatEventTime(new Date(Number.NaN))).toThrow(/invalid Date/);
    expect(() => formatEventTime(new Date("+012345-01-01T00:00:00Z"))).toThrow(/four digits/);
  });

  it("parses back to the same hundredth of a second (property)", () => {
    const date = fc.date({
      min: new Date("1970-01-01T00:00:00Z"),
      max: new Date("9999-12-31T23:59:59Z"),
      noInvalidDate: true,
    });
    fc.assert(
      fc.property(date, (d) => {
        const text = formatEventTime(d);
        expect(text).toMatch(EVENT_TIME_PATTERN);
        const back = parseEventTime(text);
        expect(d.getTime() - back.getTime()).toBeGreaterThanOrEqual(0);
        expect(d.getTime() - back.getTime()).toBeLessThan(10);
      }),
    );
  });

  it("rejects text that is not a real instant", () => {
    expect(() => parseEventTime("2019-02-30T00:00:00.00+0000")).toThrow(
      /not a real calendar instant/,
    );
    expect(() => parseEventTime("2019-06-01T12:34:56.789Z")).toThrow(/must look like/);
    // Date takes year 0000; Postgres, where the tracker stores events, does not.
    expect(() => parseEventTime("0000-01-01T00:00:00.00+0000")).toThrow(
      /not a real calendar instant/,
    );
  });
});
