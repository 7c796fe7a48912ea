import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  MAX_NAMESPACES_PER_REGION,
  namespaceNameSchema,
  validateNamespaceName,
} from "../src/index";
import { validNamespace } from "./arbitraries";

function failure(name: string): string {
  const check = validateNamespaceName(name);
  if (check.ok) throw new Error(`expected "${name}" to be rejected`);
  return check.message;
}

describe("namespace names", () => {
  it("accepts names of 4 to 30 lowercase letters, digits, - and _", () => {
    for (const name of ["birds", "abcd", "a".repeat(30), "my-team_01", "0000", "a__b", "a---b"]) {
      expect(validateNamespaceName(name), name).toEqual({ ok: true });
    }
  });

  it("gives a specific message for each kind of mistake", () => {
    expect(failure("abc")).toMatch(/too short: 3 characters, at least 4/);
    expect(failure("")).toMatch(/too short/);
    expect(failure("a".repeat(31))).toMatch(/too long: 31 characters, at most 30/);
    expect(failure("Birds")).toMatch(/bad character "B" at position 1 \(use lowercase\)/);
    expect(failure("bir.ds")).toMatch(/bad character "\." at position 4/);
    expect(failure("bird s")).toMatch(/bad character " "/);
    expect(failure("-birds")).toMatch(/must start with a letter or digit/);
    expect(failure("_birds")).toMatch(/must start with a letter or digit/);
    expect(failure("birds-")).toMatch(/must end with a letter or digit/);
  });

  it("refuses separators that no image reference could contain", () => {
    expect(failure("ab_-cd")).toMatch(/separator "_-"/);
    expect(failure("ab___cd")).toMatch(/separator "___"/);
  });

  it("accepts every generated valid name (property)", () => {
    fc.assert(
      fc.property(validNamespace, (name) => {
        expect(validateNamespaceName(name)).toEqual({ ok: true });
        expect(namespaceNameSchema.safeParse(name).success).toBe(true);
      }),
    );
  });

  it("rejects generated invalid names with the matching message (property)", () => {
    const short = validNamespace.map((n) => n.slice(0, 3));
    const long = fc
      .tuple(validNamespace, validNamespace)
      .map(([a, b]) => `${a}0${b}`.padEnd(31, "x"))
      .filter((n) => n.length > 30);
    const badChar = fc
      .tuple(validNamespace, fc.constantFrom(..."ABZ.!/:@ é".split("")), fc.nat())
      .map(([n, c, i]) => {
        const at = 1 + (i % (n.length - 1));
        return n.slice(0, at) + c + n.slice(at, 29);
      });
    const badEdge = fc
      .tuple(validNamespace, fc.constantFrom("-", "_"), fc.boolean())
      .map(([n, c, front]) => (front ? c + n.slice(1) : n.slice(0, -1) + c));
    fc.assert(
      fc.property(
        fc.oneof(
          short.map((n) => [n, /too short/] as const),
          long.map((n) => [n, /too long/] as const),
          badChar.map((n) => [n, /bad character/] as const),
          badEdge.map((n) => [n, /must (start|end) with a letter or digit/] as const),
        ),
        ([name, expected]) => {
          expect(failure(name)).toMatch(expected);
          const parsed = namespaceNameSchema.safeParse(name);
          expect(parsed.success).toBe(false);
          expect(parsed.error?.issues[0]?.message).toMatch(expected);
        },
      ),
    );
  });

  it("caps namespaces per account and region at 100", () => {
    expect(MAX_NAMESPACES_PER_REGION).toBe(100);
  });
});
