import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  crnRegion,
  formatCrn,
  InvalidCrnError,
  isCrn,
  parseCrn,
  REGION_NAMES,
  regionLocation,
  serviceCrn,
} from "../src/index";

const location = fc.oneof(
  fc.constantFrom(...REGION_NAMES.map(regionLocation)),
  fc.stringMatching(/^[a-z][a-z0-9-]{0,10}$/),
);
const account = fc.stringMatching(/^[a-zA-Z0-9_.-]{1,32}$/);
const resourceType = fc.constantFrom("", "namespace", "image", "registrytoken", "account");
// Resources are where the awkward characters live: ns/repo:tag, ns/repo@sha256:...
const resource = fc.string({
  unit: fc.constantFrom(..."abcz09/:@._-+=".split("")),
  maxLength: 80,
});

describe("CRN", () => {
  it("formats the design's layout with an empty service-instance segment", () => {
    expect(
      formatCrn({
        region: "ap-north",
        account: "a1b2",
        resourceType: "namespace",
        resource: "birds",
      }),
    ).toBe("crn:v1:bluemix:public:container-registry:jp-tok:a/a1b2::namespace:birds");
    expect(serviceCrn("us-south", "a1b2")).toBe(
      "crn:v1:bluemix:public:container-registry:us-south:a/a1b2:::",
    );
  });

  it("keeps colons, slashes and @ of image references in the resource", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const crn = formatCrn({
      location: "eu-de",
      account: "acct",
      resourceType: "image",
      resource: `birds/parrot@${digest}`,
    });
    expect(crn).toBe(
      `crn:v1:bluemix:public:container-registry:eu-de:a/acct::image:birds/parrot@${digest}`,
    );
    expect(parseCrn(crn)).toEqual({
      location: "eu-de",
      account: "acct",
      resourceType: "image",
      resource: `birds/parrot@${digest}`,
    });
    expect(crnRegion(crn)).toBe("eu-central");
  });

  it("round-trips every well-formed CRN (property)", () => {
    fc.assert(
      fc.property(location, account, resourceType, resource, (loc, acct, type, res) => {
        const parts = { location: loc, account: acct, resourceType: type, resource: res };
        const text = formatCrn(parts);
        expect(parseCrn(text)).toEqual(parts);
        expect(formatCrn(parseCrn(text))).toBe(text);
        expect(isCrn(text)).toBe(true);
      }),
    );
  });

  it("rejects malformed CRNs with a reason", () => {
    expect(() => parseCrn("crn:v1:bluemix:public:other-service:us-south:a/x::t:r")).toThrow(
      /must start with/,
    );
    expect(() => parseCrn("crn:v1:bluemix:public:container-registry:us-south:a/x")).toThrow(
      /10 colon-separated segments/,
    );
    expect(() => parseCrn("crn:v1:bluemix:public:container-registry::a/x::t:r")).toThrow(
      /empty location/,
    );
    expect(() => parseCrn("crn:v1:bluemix:public:container-registry:us-south:x::t:r")).toThrow(
      /a\/<account>/,
    );
    expect(() =>
      parseCrn("crn:v1:bluemix:public:container-registry:us-south:a/x:inst:t:r"),
    ).toThrow(/service-instance/);
    expect(() => parseCrn("nonsense")).toThrow(InvalidCrnError);
    expect(isCrn(17)).toBe(false);
  });

  it("gives every caller the same parse of a text, which none can change; a malformed text is refused every time", () => {
    const parts = {
      location: "us-south",
      account: "acct",
      resourceType: "image",
      resource: "a/b:1",
    };
    const text = formatCrn(parts);
    const first = parseCrn(text);
    expect(() => {
      (first as { account: string }).account = "other";
    }, "a parsed CRN is frozen").toThrow(TypeError);
    expect(parseCrn(text)).toEqual(parts);
    const malformed = "crn:v1:bluemix:public:container-registry::a/x::t:r";
    for (let i = 0; i < 2; i++) expect(() => parseCrn(malformed)).toThrow(/empty location/);
    // Past the bound of what is kept: each text still parses to its own parts.
    for (let i = 0; i < 10_000; i++) {
      expect(parseCrn(`${text}${i}`).resource).toBe(`a/b:1${i}`);
    }
    expect(parseCrn(text)).toEqual(parts);
    const long = `${text}/${"x".repeat(100_000)}`;
    expect(parseCrn(long).resource).toBe(`a/b:1/${"x".repeat(100_000)}`);
    expect(Object.isFrozen(parseCrn(long)), "a long CRN's parse is frozen too").toBe(true);
  });

  it("refuses parts that would break the layout", () => {
    const base = { location: "us-south", account: "acct", resourceType: "image", resource: "a/b" };
    expect(() => formatCrn({ ...base, account: "a:b" })).toThrow(/account must not contain ":"/);
    expect(() => formatCrn({ ...base, account: "" })).toThrow(/account must not be empty/);
    expect(() => formatCrn({ ...base, account: "a/b" })).toThrow(/account must not contain "\/"/);
    expect(() => formatCrn({ ...base, resourceType: "im:age" })).toThrow(/resource type/);
    expect(() => formatCrn({ ...base, resource: "a b" })).toThrow(/whitespace/);
    expect(() => formatCrn({ account: "acct", resourceType: "", resource: "" })).toThrow(
      /location or a region/,
    );
    expect(() => formatCrn({ ...base, location: "eu-de", region: "us-south" })).toThrow(
      /disagrees/,
    );
  });
});
