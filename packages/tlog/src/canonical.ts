/**
 * RFC 8785 (JSON Canonicalization Scheme) for JSON values, byte-identical to the `canonicalize`
 * package (the reference the tests compare against, property-tested), at a fraction of its
 * cost: the leaf of every ingested event is this text, so it runs once per event.
 *
 * Strings and numbers are serialised by JSON.stringify, which RFC 8785 §3.2.2 prescribes
 * (ECMAScript's string escaping and Number-to-string); object keys are sorted by UTF-16 code
 * units (§3.2.3), which is what Array.prototype.sort does with strings.
 */

const SURROGATE = /[\uD800-\uDFFF]/;

/** RFC 8785 §3.2.2.2 allows only well-formed UTF-16: a lone surrogate has no UTF-8 form. */
function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const code = s.charCodeAt(i);
    if (code >= 0xd800 && code <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (!(next >= 0xdc00 && next <= 0xdfff)) return true;
      i++;
    } else if (code >= 0xdc00 && code <= 0xdfff) return true;
  }
  return false;
}

function stringText(s: string): string {
  // The regular expression rejects the common case (no surrogate at all) without a JS loop.
  if (SURROGATE.test(s) && hasLoneSurrogate(s)) throw new Error("Lone surrogate is not allowed");
  return JSON.stringify(s);
}

function numberText(n: number): string {
  if (Number.isNaN(n)) throw new Error("NaN is not allowed");
  if (!Number.isFinite(n)) throw new Error("Infinity is not allowed");
  return JSON.stringify(n);
}

type Json = Record<string, unknown>;

/** The RFC 8785 text of a JSON value; undefined for undefined (as JSON.stringify). */
export function canonicalJson(value: unknown): string | undefined {
  if (value === null) return "null";
  switch (typeof value) {
    case "string":
      return stringText(value);
    case "number":
      return numberText(value);
    case "object":
      return objectText(value as object);
    default:
      return JSON.stringify(value);
  }
}

function memberText(value: unknown): string {
  // Array members that JSON cannot hold are null, as in JSON.stringify.
  return value === undefined || typeof value === "symbol"
    ? "null"
    : (canonicalJson(value) as string);
}

function objectText(value: object): string | undefined {
  // As JSON.stringify (and the reference): an object with toJSON stands for what it returns.
  const { toJSON } = value as { toJSON?: unknown };
  if (typeof toJSON === "function") return canonicalJson(toJSON.call(value));
  if (Array.isArray(value)) {
    let out = "[";
    for (let i = 0; i < value.length; i++) out += (i === 0 ? "" : ",") + memberText(value[i]);
    return `${out}]`;
  }
  const keys = Object.keys(value).sort();
  let out = "{";
  let first = true;
  for (const key of keys) {
    const member = (value as Json)[key];
    if (member === undefined || typeof member === "symbol") continue;
    out += `${first ? "" : ","}${stringText(key)}:${canonicalJson(member)}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * The keys an object is known to have, each with the shape of its value: another object of
 * known keys, or `true` for any JSON value.
 */
export interface JsonShape {
  readonly [key: string]: JsonShape | true;
}

/**
 * A canonicaliser specialised for objects of a known shape: the keys are sorted and quoted
 * once, here, instead of for every value. It gives the same text as `canonicalJson` for any
 * value: one that does not fit the shape (a key it does not list, an array, another
 * prototype) is handed to `canonicalJson` whole.
 */
export function canonicalizerFor(shape: JsonShape): (value: unknown) => string | undefined {
  const members = Object.keys(shape)
    .sort()
    .map((key) => {
      // A key Object.prototype has would be read through the prototype of a value lacking it.
      if (key in Object.prototype) throw new Error(`"${key}" cannot be a key of a JSON shape`);
      const sub = shape[key] as JsonShape | true;
      const text = sub === true ? canonicalJson : canonicalizerFor(sub);
      return { key, quoted: `${stringText(key)}:`, text };
    });
  return (value) => {
    if (
      value === null ||
      typeof value !== "object" ||
      Object.getPrototypeOf(value) !== Object.prototype
    ) {
      return canonicalJson(value);
    }
    let out = "{";
    let seen = 0;
    for (const m of members) {
      const member = (value as Json)[m.key];
      if (member === undefined || typeof member === "symbol") continue;
      seen++;
      out += `${seen === 1 ? "" : ","}${m.quoted}${typeof member === "string" ? stringText(member) : m.text(member)}`;
    }
    // Any key the shape does not list (or one holding undefined): the general path.
    if (seen !== Object.keys(value).length) return canonicalJson(value);
    return `${out}}`;
  };
}
