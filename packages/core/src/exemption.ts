import { z } from "zod";
import { validateNamespaceName } from "./names";
import { digestProblem, repositoryNameProblem, tagProblem } from "./reference";

export const ISSUE_TYPES = ["cve", "configuration"] as const;
export type IssueType = (typeof ISSUE_TYPES)[number];
export const issueTypeSchema = z.enum(ISSUE_TYPES);

export const CVE_ID_PATTERN = /^CVE-\d{4}-\d{4,}$/;
export const CONFIGURATION_ISSUE_ID_PATTERN =
  /^application_configuration:[a-zA-Z0-9][a-zA-Z0-9._-]*$/;

export const cveIdSchema = z
  .string()
  .regex(CVE_ID_PATTERN, { message: "CVE ids look like CVE-2018-17929" });
export const configurationIssueIdSchema = z.string().regex(CONFIGURATION_ISSUE_ID_PATTERN, {
  message: "configuration issue ids look like application_configuration:nginx.ssl_protocols",
});
export const issueIdSchema = z.union([cveIdSchema, configurationIssueIdSchema], {
  error: "issue id must be a CVE id (CVE-2018-17929) or application_configuration:<name>",
});

/** An issue whose id agrees with its type. */
export const exemptionIssueSchema = z.discriminatedUnion("issueType", [
  z.object({ issueType: z.literal("cve"), issueId: cveIdSchema }),
  z.object({ issueType: z.literal("configuration"), issueId: configurationIssueIdSchema }),
]);

export function issueTypeOf(issueId: string): IssueType | undefined {
  if (CVE_ID_PATTERN.test(issueId)) return "cve";
  if (CONFIGURATION_ISSUE_ID_PATTERN.test(issueId)) return "configuration";
  return undefined;
}

export type ExemptionScope =
  | { readonly kind: "account" }
  | { readonly kind: "namespace"; readonly namespace: string }
  | { readonly kind: "repository"; readonly namespace: string; readonly repository: string }
  | {
      readonly kind: "image";
      readonly namespace: string;
      readonly repository: string;
      readonly tag?: string;
      readonly digest?: string;
    };

export class InvalidExemptionScopeError extends Error {
  override readonly name = "InvalidExemptionScopeError";
}

/**
 * Parse `*`, `ns`, `ns/repo`, `ns/repo:tag` or `ns/repo@digest`. Unlike a
 * pull, a scope without a tag means the whole repository, not `:latest`.
 * `allowTagAndDigest` is for query scopes, where a caller that has resolved
 * a tag can ask about both at once.
 */
export function parseExemptionScope(
  scope: string,
  options: { allowTagAndDigest?: boolean } = {},
): ExemptionScope {
  const fail = (why: string): never => {
    throw new InvalidExemptionScopeError(
      `exemption scope "${scope}" is invalid: ${why} (use *, ns, ns/repo, ns/repo:tag or ns/repo@digest)`,
    );
  };
  if (typeof scope !== "string" || scope === "") return fail("it is empty");
  if (scope === "*") return { kind: "account" };
  if (!scope.includes("/")) {
    const check = validateNamespaceName(scope);
    return check.ok ? { kind: "namespace", namespace: scope } : fail(check.message);
  }
  const at = scope.indexOf("@");
  const named = at === -1 ? scope : scope.slice(0, at);
  const digest = at === -1 ? undefined : scope.slice(at + 1);
  const colon = named.lastIndexOf(":");
  const tag = colon > named.lastIndexOf("/") ? named.slice(colon + 1) : undefined;
  const repository = tag === undefined ? named : named.slice(0, colon);
  const problem =
    repositoryNameProblem(repository) ??
    (tag !== undefined ? tagProblem(tag) : undefined) ??
    (digest !== undefined ? digestProblem(digest) : undefined);
  if (problem) return fail(problem);
  if (tag !== undefined && digest !== undefined && !options.allowTagAndDigest) {
    return fail("give a tag or a digest, not both");
  }
  const namespace = repository.slice(0, repository.indexOf("/"));
  if (tag === undefined && digest === undefined)
    return { kind: "repository", namespace, repository };
  return {
    kind: "image",
    namespace,
    repository,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

export const exemptionScopeSchema = z.string().superRefine((scope, ctx) => {
  try {
    parseExemptionScope(scope);
  } catch (error) {
    if (!(error instanceof InvalidExemptionScopeError)) throw error;
    ctx.addIssue({ code: "custom", message: error.message });
  }
});

/**
 * Whether an exemption recorded at `exemptionScope` covers `queryScope`: it
 * does when it is the same scope or a broader one containing it.
 */
export function scopeApplies(exemptionScope: string, queryScope: string): boolean {
  const exemption = parseExemptionScope(exemptionScope);
  const query = parseExemptionScope(queryScope, { allowTagAndDigest: true });
  switch (exemption.kind) {
    case "account":
      return true;
    case "namespace":
      return query.kind !== "account" && query.namespace === exemption.namespace;
    case "repository":
      return (
        (query.kind === "repository" || query.kind === "image") &&
        query.repository === exemption.repository
      );
    case "image":
      return (
        query.kind === "image" &&
        query.repository === exemption.repository &&
        ((exemption.tag !== undefined && query.tag === exemption.tag) ||
          (exemption.digest !== undefined && query.digest === exemption.digest))
      );
  }
}
