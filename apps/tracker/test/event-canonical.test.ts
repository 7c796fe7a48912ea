import { makeEvent } from "@berth/tracker-client/testing";
import canonicalize from "canonicalize";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { canonicalEvent } from "../src/log/event-canonical";

const outcome = (f: (v: unknown) => string | undefined, v: unknown) => {
  try {
    return f(v);
  } catch {
    return "<throws>";
  }
};

// Any text, lone surrogates (which RFC 8785 refuses) and escapes included.
const text = fc.string({
  unit: fc.oneof(
    fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
    fc.constantFrom('"', "\\", "\u0000", "\u2028", "\ud800", "\udfff", "😀"),
  ),
  maxLength: 10,
});
const value = fc.jsonValue({ maxDepth: 2 });
const scalar = fc.oneof(text, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
/** An object of the given keys (each may be missing), sometimes with a key the event lacks. */
const some = (keys: Record<string, fc.Arbitrary<unknown>>) =>
  fc
    .tuple(fc.record(keys, { requiredKeys: [] }), fc.option(fc.tuple(text, value)))
    .map(([o, extra]) => (extra ? { ...o, [extra[0]]: extra[1] } : o));
const eventLike = some({
  id: text,
  eventTime: text,
  action: text,
  outcome: text,
  severity: text,
  dataEvent: fc.boolean(),
  message: text,
  initiator: fc.oneof(
    some({
      id: text,
      name: text,
      typeURI: text,
      credential: some({ type: text }),
      host: some({ address: text, addressType: text, agent: text }),
    }),
    value,
  ),
  target: some({ id: text, name: text, typeURI: text }),
  observer: some({ name: text }),
  reason: some({ reasonCode: scalar, reasonType: text, reasonForFailure: text }),
  requestData: value,
  responseData: value,
  logSourceCRN: text,
  saveServiceCopy: scalar,
  correlationId: text,
});

describe("the event's canonical text (its log leaf)", () => {
  it("is byte-identical to the canonicalize package (RFC 8785) for event-shaped values and any others", () => {
    fc.assert(
      fc.property(fc.oneof(eventLike, value), (v) => {
        // What the tracker hashes is parsed from the request body.
        const parsed =
          outcome(JSON.stringify, v) === "<throws>" ? v : JSON.parse(JSON.stringify(v));
        expect(outcome(canonicalEvent, parsed)).toBe(outcome(canonicalize, parsed));
      }),
      { numRuns: 2000 },
    );
  });

  it("is byte-identical for events as core builds them, with and without request data", () => {
    for (const e of [
      makeEvent(),
      makeEvent({ outcome: "failure", target: 'bïrds/\u2028"x"' }),
      { ...makeEvent(), requestData: { z: [1, 2.5, { b: null, a: "é" }], a: true } },
    ]) {
      const parsed: unknown = JSON.parse(JSON.stringify(e));
      expect(canonicalEvent(parsed)).toBe(canonicalize(parsed));
    }
  });
});
