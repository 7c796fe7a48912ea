import { describe, expect, it } from "vitest";
import { reconnectDelaySeconds } from "../src/client";
import { isDatabaseUnavailable, neverReachedDatabase } from "../src/errors";

describe("isDatabaseUnavailable", () => {
  const wrapped = (cause: unknown) => Object.assign(new Error("Failed query: select 1"), { cause });
  it("recognises refused and cut connections and the server's shutdown states, wrapped or not", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "CONNECTION_CLOSED", "CONNECT_TIMEOUT"]) {
      expect(isDatabaseUnavailable(Object.assign(new Error(code), { code }))).toBe(true);
      expect(isDatabaseUnavailable(wrapped(Object.assign(new Error(code), { code })))).toBe(true);
    }
    for (const code of ["57P01", "57P03", "08006", "53300"]) {
      expect(isDatabaseUnavailable(wrapped({ code, message: "server" }))).toBe(true);
    }
    const refused = Object.assign(new Error("connect"), { code: "ECONNREFUSED" });
    expect(isDatabaseUnavailable(new AggregateError([refused]))).toBe(true);
  });
  it("leaves query errors and everything else alone", () => {
    for (const code of ["23505", "42P01", "22P02", "ENOENT", undefined]) {
      expect(isDatabaseUnavailable(wrapped({ code, message: "query" }))).toBe(false);
    }
    expect(isDatabaseUnavailable(null)).toBe(false);
    expect(isDatabaseUnavailable("ECONNREFUSED")).toBe(false);
  });
});

describe("neverReachedDatabase", () => {
  const wrapped = (cause: unknown) => Object.assign(new Error("Failed query: select 1"), { cause });
  it("tells a connection never made from one lost with a statement on it", () => {
    for (const code of ["ECONNREFUSED", "CONNECT_TIMEOUT", "ENOTFOUND", "57P03", "53300"]) {
      expect(neverReachedDatabase(wrapped({ code, message: "connect" })), code).toBe(true);
    }
    // Every address of a host name refused (localhost: ::1 and 127.0.0.1).
    const refused = Object.assign(new Error("connect"), { code: "ECONNREFUSED" });
    expect(neverReachedDatabase(wrapped(new AggregateError([refused, refused])))).toBe(true);
    for (const code of ["ECONNRESET", "CONNECTION_CLOSED", "EPIPE", "57P01", "08006", "23505"]) {
      expect(neverReachedDatabase(wrapped({ code, message: "lost" })), code).toBe(false);
    }
  });
});

describe("reconnectDelaySeconds", () => {
  it("starts small and never exceeds a second", () => {
    for (let n = 0; n < 40; n++) {
      const d = reconnectDelaySeconds(n);
      expect(d).toBeGreaterThan(0);
      expect(d).toBeLessThanOrEqual(1);
    }
    expect(reconnectDelaySeconds(0)).toBeLessThanOrEqual(0.05);
  });
});
