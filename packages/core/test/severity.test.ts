import { describe, expect, it } from "vitest";
import { failureSeverity, reasonType } from "../src/index";

describe("failureSeverity", () => {
  it("follows the design's table", () => {
    for (const code of [400, 404, 409, 413, 424, 429, 500, 502, 504, 505]) {
      expect(failureSeverity(code), String(code)).toBe("warning");
    }
    for (const code of [401, 403, 503, 507]) {
      expect(failureSeverity(code), String(code)).toBe("critical");
    }
  });

  it("falls back to warning for other 4xx and critical for other 5xx", () => {
    expect(failureSeverity(405)).toBe("warning");
    expect(failureSeverity(422)).toBe("warning");
    expect(failureSeverity(499)).toBe("warning");
    expect(failureSeverity(501)).toBe("critical");
    expect(failureSeverity(599)).toBe("critical");
  });

  it("rejects values that are not HTTP statuses", () => {
    expect(() => failureSeverity(42)).toThrow(RangeError);
    expect(() => failureSeverity(600)).toThrow(/100 and 599/);
    expect(() => failureSeverity(404.5)).toThrow(RangeError);
  });
});

describe("reasonType", () => {
  it("gives the HTTP status text", () => {
    expect(reasonType(200)).toBe("OK");
    expect(reasonType(201)).toBe("Created");
    expect(reasonType(404)).toBe("Not Found");
    expect(reasonType(429)).toBe("Too Many Requests");
    expect(reasonType(507)).toBe("Insufficient Storage");
  });

  it("labels unregistered codes readably", () => {
    expect(reasonType(499)).toBe("HTTP 499");
  });
});
