import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  exemptionIssueSchema,
  exemptionScopeSchema,
  issueIdSchema,
  issueTypeOf,
  issueTypeSchema,
  parseExemptionScope,
  scopeApplies,
} from "../src/index";
import { validDigest, validNamespace, validRepository, validTag } from "./arbitraries";

const SHA = `sha256:${"c".repeat(64)}`;

describe("exemption scopes", () => {
  it("accepts the five scope shapes", () => {
    expect(parseExemptionScope("*")).toEqual({ kind: "account" });
    expect(parseExemptionScope("birds")).toEqual({ kind: "namespace", namespace: "birds" });
    expect(parseExemptionScope("birds/parrot")).toEqual({
      kind: "repository",
      namespace: "birds",
      repository: "birds/parrot",
    });
    expect(parseExemptionScope("birds/parrot:1")).toEqual({
      kind: "image",
      namespace: "birds",
      repository: "birds/parrot",
      tag: "1",
    });
    expect(parseExemptionScope(`birds/parrot@${SHA}`)).toMatchObject({
      kind: "image",
      digest: SHA,
    });
  });

  it("rejects anything else with a reason", () => {
    const message = (scope: string) =>
      exemptionScopeSchema.safeParse(scope).error?.issues[0]?.message;
    expect(message("")).toMatch(/empty/);
    expect(message("birds*")).toMatch(/bad character "\*"/);
    expect(message("ab")).toMatch(/too short/);
    expect(message("birds/Parrot")).toMatch(/use lowercase/);
    expect(message(`birds/parrot:1@${SHA}`)).toMatch(/a tag or a digest, not both/);
    expect(message("birds/parrot@sha256:x")).toMatch(/64 lowercase hex/);
    expect(exemptionScopeSchema.safeParse("birds/parrot:1").success).toBe(true);
  });
});

describe("scopeApplies", () => {
  const cases: [string, string, boolean][] = [
    ["*", "*", true],
    ["*", "birds/parrot:1", true],
    ["birds", "*", false],
    ["birds", "birds", true],
    ["birds", "birds/parrot", true],
    ["birds", `birds/parrot@${SHA}`, true],
    ["birds", "birdsx/parrot", false],
    ["birds", "fish", false],
    ["birds/parrot", "birds", false],
    ["birds/parrot", "birds/parrot", true],
    ["birds/parrot", "birds/parrot:1", true],
    ["birds/parrot", `birds/parrot@${SHA}`, true],
    ["birds/parrot", "birds/parrot/chick:1", false],
    ["birds/parrot", "birds/parrots:1", false],
    ["birds/parrot:1", "birds/parrot:1", true],
    ["birds/parrot:1", "birds/parrot:2", false],
    ["birds/parrot:1", "birds/parrot", false],
    ["birds/parrot:1", `birds/parrot@${SHA}`, false],
    [`birds/parrot@${SHA}`, `birds/parrot@${SHA}`, true],
    [`birds/parrot@${SHA}`, "birds/parrot:1", false],
    // A caller that has resolved the tag can ask about both at once.
    [`birds/parrot@${SHA}`, `birds/parrot:1@${SHA}`, true],
    ["birds/parrot:1", `birds/parrot:1@${SHA}`, true],
  ];
  it.each(cases)("%s applies to %s: %s", (exemption, query, expected) => {
    expect(scopeApplies(exemption, query)).toBe(expected);
  });

  it("applies every scope to itself and lets broader scopes cover narrower ones (property)", () => {
    const image = fc.tuple(
      validRepository,
      fc.oneof(
        validTag.map((t) => `:${t}`),
        validDigest.map((d) => `@${d}`),
      ),
    );
    fc.assert(
      fc.property(image, ([repository, suffix]) => {
        const namespace = repository.split("/")[0]!;
        const chain = ["*", namespace, repository, repository + suffix];
        chain.forEach((broad, i) => {
          chain.forEach((narrow, j) => {
            expect(scopeApplies(broad, narrow)).toBe(i <= j);
          });
        });
      }),
    );
  });

  it("never lets one namespace's exemption leak into another (property)", () => {
    fc.assert(
      fc.property(validNamespace, validNamespace, validRepository, (a, b, repository) => {
        fc.pre(a !== b);
        const path = repository.slice(repository.indexOf("/"));
        expect(scopeApplies(a, `${b}${path}`)).toBe(false);
        expect(scopeApplies(`${a}${path}`, `${b}${path}:latest`)).toBe(false);
      }),
    );
  });
});

describe("issues", () => {
  it("knows the two issue types and their id formats", () => {
    expect(issueTypeSchema.options).toEqual(["cve", "configuration"]);
    expect(issueIdSchema.safeParse("CVE-2018-17929").success).toBe(true);
    expect(issueIdSchema.safeParse("CVE-2021-123456").success).toBe(true);
    expect(issueIdSchema.safeParse("application_configuration:nginx.ssl_protocols").success).toBe(
      true,
    );
    expect(issueIdSchema.safeParse("cve-2018-17929").success).toBe(false);
    expect(issueIdSchema.safeParse("CVE-2018-123").success).toBe(false);
    expect(issueIdSchema.safeParse("application_configuration:").success).toBe(false);
    expect(issueTypeOf("CVE-2018-17929")).toBe("cve");
    expect(issueTypeOf("application_configuration:mysql.ssl-ca")).toBe("configuration");
    expect(issueTypeOf("nonsense")).toBeUndefined();
  });

  it("requires the id to match the issue type", () => {
    expect(
      exemptionIssueSchema.safeParse({ issueType: "cve", issueId: "CVE-2018-17929" }).success,
    ).toBe(true);
    expect(
      exemptionIssueSchema.safeParse({ issueType: "cve", issueId: "application_configuration:x" })
        .success,
    ).toBe(false);
    const wrong = exemptionIssueSchema.safeParse({
      issueType: "configuration",
      issueId: "CVE-2018-17929",
    });
    expect(wrong.error?.issues[0]?.message).toMatch(
      /application_configuration:nginx.ssl_protocols/,
    );
  });
});
