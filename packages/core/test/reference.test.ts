import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  digestSchema,
  formatImageReference,
  InvalidReferenceError,
  parseDigest,
  parseImageReference,
  parseRepositoryName,
  repositoryNameSchema,
  tagSchema,
} from "../src/index";
import { validDigest, validRepository, validTag } from "./arbitraries";

const SHA = `sha256:${"0123456789abcdef".repeat(4)}`;

function rejection(fn: () => unknown): InvalidReferenceError {
  try {
    fn();
  } catch (error) {
    if (error instanceof InvalidReferenceError) return error;
    throw error;
  }
  throw new Error("expected an InvalidReferenceError");
}

describe("repository names", () => {
  it("splits namespace and path", () => {
    expect(parseRepositoryName("birds/parrot")).toEqual({
      namespace: "birds",
      path: "parrot",
      name: "birds/parrot",
    });
    expect(parseRepositoryName("birds/tropical/macaw.v2")).toEqual({
      namespace: "birds",
      path: "tropical/macaw.v2",
      name: "birds/tropical/macaw.v2",
    });
  });

  it("requires a namespace and follows the OCI grammar", () => {
    expect(rejection(() => parseRepositoryName("parrot")).message).toMatch(/needs a namespace/);
    expect(rejection(() => parseRepositoryName("birds/Parrot")).message).toMatch(/use lowercase/);
    expect(rejection(() => parseRepositoryName("birds//parrot")).message).toMatch(
      /empty path component/,
    );
    expect(rejection(() => parseRepositoryName("birds/par--_rot")).message).toMatch(
      /invalid component "par--_rot"/,
    );
    expect(rejection(() => parseRepositoryName("ab/parrot")).message).toMatch(/too short/);
    expect(rejection(() => parseRepositoryName(`birds/${"a".repeat(250)}`)).message).toMatch(
      /too long: 256/,
    );
    expect(rejection(() => parseRepositoryName("x")).code).toBe("NAME_INVALID");
    expect(repositoryNameSchema.safeParse("birds/parrot").success).toBe(true);
    expect(repositoryNameSchema.safeParse("birds/").success).toBe(false);
  });
});

describe("tags and digests", () => {
  it("validates tags per the OCI grammar", () => {
    for (const tag of ["latest", "v1.2.3", "_x", "A-b_c.d", "a".repeat(128)]) {
      expect(tagSchema.safeParse(tag).success, tag).toBe(true);
    }
    for (const tag of ["", ".hidden", "-x", "a:b", "a/b", "a".repeat(129)]) {
      expect(tagSchema.safeParse(tag).success, tag).toBe(false);
    }
  });

  it("accepts sha256 and sha512 digests only", () => {
    expect(digestSchema.safeParse(SHA).success).toBe(true);
    expect(digestSchema.safeParse(`sha512:${"ab".repeat(64)}`).success).toBe(true);
    expect(parseDigest(SHA)).toEqual({ algorithm: "sha256", encoded: SHA.slice(7) });
    expect(rejection(() => parseDigest(`sha256:${"A".repeat(64)}`)).message).toMatch(
      /64 lowercase hex/,
    );
    expect(rejection(() => parseDigest("sha256:abc")).message).toMatch(/64 lowercase hex/);
    expect(rejection(() => parseDigest(`md5:${"a".repeat(32)}`)).message).toMatch(
      /"md5" is not supported/,
    );
    expect(rejection(() => parseDigest("nonsense")).message).toMatch(/<algorithm>:<hex>/);
  });
});

describe("parseImageReference", () => {
  it("reads tags, digests and both", () => {
    expect(parseImageReference("birds/parrot:1.0")).toEqual({
      namespace: "birds",
      repository: "birds/parrot",
      tag: "1.0",
      text: "birds/parrot:1.0",
    });
    expect(parseImageReference(`birds/parrot@${SHA}`)).toEqual({
      namespace: "birds",
      repository: "birds/parrot",
      digest: SHA,
      text: `birds/parrot@${SHA}`,
    });
    const both = parseImageReference(`birds/parrot:1.0@${SHA}`);
    expect(both.tag).toBe("1.0");
    expect(both.digest).toBe(SHA);
    expect(both.text).toBe(`birds/parrot:1.0@${SHA}`);
  });

  it("defaults to latest, to a chosen tag, or demands a tag", () => {
    expect(parseImageReference("birds/parrot").text).toBe("birds/parrot:latest");
    expect(parseImageReference("birds/parrot", { defaultTag: "stable" }).tag).toBe("stable");
    const untag = rejection(() => parseImageReference("birds/parrot", { defaultTag: null }));
    expect(untag.message).toMatch(/needs an explicit tag: write birds\/parrot:<tag>/);
    expect(untag.code).toBe("TAG_INVALID");
    expect(parseImageReference(`birds/parrot@${SHA}`, { defaultTag: null }).tag).toBeUndefined();
  });

  it("names what is wrong", () => {
    expect(rejection(() => parseImageReference("")).message).toMatch(/empty/);
    expect(rejection(() => parseImageReference("birds/parrot:")).message).toMatch(/tag is empty/);
    expect(rejection(() => parseImageReference("birds/parrot:-x")).code).toBe("TAG_INVALID");
    expect(rejection(() => parseImageReference("birds/parrot@sha256:1")).code).toBe(
      "DIGEST_INVALID",
    );
    expect(rejection(() => parseImageReference(`b/p@${SHA}@${SHA}`)).message).toMatch(
      /more than one "@"/,
    );
    expect(rejection(() => parseImageReference("Birds/parrot")).message).toMatch(/use lowercase/);
    expect(rejection(() => parseImageReference("birds/par rot")).message).toMatch(/whitespace/);
    expect(rejection(() => parseImageReference("parrot:1")).message).toMatch(/needs a namespace/);
  });

  it("only strips a registry host when asked to", () => {
    expect(rejection(() => parseImageReference("us.icr.io/birds/parrot:1")).message).toMatch(
      /registry host "us.icr.io"/,
    );
    expect(parseImageReference("us.icr.io/birds/parrot:1", { allowHost: true })).toEqual({
      namespace: "birds",
      repository: "birds/parrot",
      tag: "1",
      text: "birds/parrot:1",
      host: "us.icr.io",
    });
    const local = parseImageReference("localhost:5000/birds/parrot", { allowHost: true });
    expect(local.host).toBe("localhost:5000");
    expect(local.text).toBe("birds/parrot:latest");
  });

  it("round-trips valid references through format and parse (property)", () => {
    const parts = fc.record(
      { repository: validRepository, tag: validTag, digest: validDigest },
      { requiredKeys: ["repository"] },
    );
    fc.assert(
      fc.property(parts, (ref) => {
        fc.pre(ref.repository.length <= 255);
        const text = formatImageReference(ref);
        const parsed = parseImageReference(text);
        expect(parsed.repository).toBe(ref.repository);
        expect(parsed.namespace).toBe(ref.repository.split("/")[0]);
        expect(parsed.digest).toBe(ref.digest);
        if (ref.tag !== undefined || ref.digest !== undefined) {
          expect(parsed.tag).toBe(ref.tag);
          expect(parsed.text).toBe(text);
        } else {
          expect(parsed.tag).toBe("latest");
        }
        expect(formatImageReference(parsed)).toBe(parsed.text);
        expect(parseImageReference(parsed.text)).toEqual(parsed);
      }),
    );
  });

  it("rejects corrupted references with a message (property)", () => {
    const junk = fc.constantFrom("UPPER", " ", "//", "::", "@@", "!", ":-");
    fc.assert(
      fc.property(validRepository, validTag, junk, fc.nat(), (repo, tag, bad, i) => {
        const text = `${repo}:${tag}`;
        const at = i % (text.length + 1);
        const ref = text.slice(0, at) + bad + text.slice(at);
        // Capitals are legal in tags, so only that one corruption can survive.
        const stillValid = bad === "UPPER" && at > repo.length;
        if (stillValid) {
          expect(parseImageReference(ref).tag).toContain("UPPER");
          return;
        }
        const error = rejection(() => parseImageReference(ref));
        expect(error.message).toMatch(
          /invalid|empty|whitespace|more than one|host|namespace|lowercase/,
        );
        expect(["NAME_INVALID", "TAG_INVALID", "DIGEST_INVALID"]).toContain(error.code);
      }),
    );
  });
});
