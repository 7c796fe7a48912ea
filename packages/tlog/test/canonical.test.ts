import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  canonicalizerFor,
  canonicalJson,
  type JsonShape,
  leafHash,
  leafHashOfText,
} from "../src/index";

/** The text, or that it throws (the reference throws on NaN, infinities and lone surrogates). */
const outcome = (f: (v: unknown) => string | undefined, v: unknown) => {
  try {
    return f(v);
  } catch {
    return "<throws>";
  }
};

// Strings that exercise the escaping: quotes, backslashes, controls, U+2028, astral characters
// (surrogate pairs) and lone surrogates, which RFC 8785 refuses.
const unit = fc.oneof(
  fc.constantFrom('"', "\\", "\u0000", "\u001f", "\u007f", "\u2028", "é", "€", "😀"),
  fc.constantFrom("\ud800", "\udbff", "\udc00", "\udfff"),
  fc.string({ unit: "binary", maxLength: 2 }),
  fc.string({ minLength: 1, maxLength: 1 }),
);
const text = fc.string({ unit, maxLength: 12 });
const number = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, 0.1 + 0.2),
);
const { json } = fc.letrec<{ json: unknown }>((tie) => ({
  json: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    number,
    text,
    fc.array(tie("json"), { maxLength: 5 }),
    fc.dictionary(text, tie("json"), { maxKeys: 6 }),
  ),
}));
/** JSON values as JSON.parse makes them (plain objects, every key its own). */
const parsedJson = json
  .filter((v) => outcome(JSON.stringify, v) !== "<throws>")
  .map((v) => {
    const t = JSON.stringify(v);
    return t === undefined ? v : (JSON.parse(t) as unknown);
  });

/** A shape that lists some of a value's keys (and some it lacks), down to a random depth. */
function shapeFrom(value: unknown, pick: number[], depth = 0): JsonShape | true {
  if (value === null || typeof value !== "object" || Array.isArray(value) || depth > 3) return true;
  const shape: Record<string, JsonShape | true> = {};
  Object.keys(value).forEach((key, i) => {
    if (key in Object.prototype || outcome(canonicalJson, key) === "<throws>") return;
    const p = pick[(i + depth) % Math.max(1, pick.length)] ?? 0;
    if (p % 5 === 0) return; // a key the shape does not list
    shape[key] =
      p % 2 === 0 ? true : shapeFrom((value as Record<string, unknown>)[key], pick, depth + 1);
  });
  if ((pick[0] ?? 0) % 3 === 0) shape.absentKey = true; // a listed key the value lacks
  return shape;
}

describe("RFC 8785 canonical JSON", () => {
  it("is byte-identical to the canonicalize package for any value, thrown errors included", () => {
    fc.assert(
      fc.property(json, (v) => {
        expect(outcome(canonicalJson, v)).toBe(outcome(canonicalize, v));
      }),
      { numRuns: 3000 },
    );
  });

  it("specialised for a shape, gives the same text whether or not the value fits the shape", () => {
    fc.assert(
      fc.property(parsedJson, fc.array(fc.nat(), { minLength: 1, maxLength: 8 }), (v, pick) => {
        const shape = shapeFrom(v, pick);
        const canonical = canonicalizerFor(shape === true ? { key: true } : shape);
        expect(outcome(canonical, v)).toBe(outcome(canonicalize, v));
      }),
      { numRuns: 3000 },
    );
  });

  it("specialised for a shape, handles a value that fits it exactly", () => {
    const canonical = canonicalizerFor({ b: { y: true, x: true }, a: true, é: true });
    const v = { é: "\u2028", a: [1, -0, 1e21, "\ud83d\ude00"], b: { x: 0.1, y: null } };
    expect(canonical(v)).toBe(canonicalize(v));
    expect(canonical(v)).toBe('{"a":[1,0,1e+21,"😀"],"b":{"x":0.1,"y":null},"é":"\u2028"}');
    expect(() => canonical({ a: "\ud800" })).toThrow(/surrogate/);
  });

  it("refuses a shape key that objects inherit (it would be read through the prototype) or that has no canonical form", () => {
    expect(() => canonicalizerFor({ toString: true } as JsonShape)).toThrow(/toString/);
    expect(() => canonicalizerFor({ "\udc00": true })).toThrow(/surrogate/);
  });

  it("hashes a text as a leaf of its UTF-8 bytes, like leafHash of the bytes", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (t) => {
        expect(leafHashOfText(t).equals(leafHash(Buffer.from(t, "utf8")))).toBe(true);
      }),
    );
  });
});
