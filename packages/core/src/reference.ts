import { z } from "zod";
import { validateNamespaceName } from "./names";

// OCI distribution-spec grammar for one path component of a repository name.
const COMPONENT = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*$/;
export const REPOSITORY_NAME_MAX_LENGTH = 255;
export const TAG_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST_SHAPE = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
/** Digest algorithms Berth accepts and the lowercase hex length of each. */
export const DIGEST_ALGORITHMS = Object.freeze({ sha256: 64, sha512: 128 } as const);
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

export type ReferenceErrorCode = "NAME_INVALID" | "TAG_INVALID" | "DIGEST_INVALID";

/** Carries the OCI error code the registry answers with, so callers need not re-derive it. */
export class InvalidReferenceError extends Error {
  override readonly name = "InvalidReferenceError";
  constructor(
    message: string,
    readonly code: ReferenceErrorCode,
    readonly reference: string,
  ) {
    super(message);
  }
}

export interface RepositoryName {
  readonly namespace: string;
  /** The repository inside the namespace ("repo" or "team/repo"). */
  readonly path: string;
  /** The full name, "ns/path". */
  readonly name: string;
}

export interface ImageReference {
  readonly namespace: string;
  /** Full repository name, "ns/path". */
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
  /** Canonical text: "ns/repo:tag", "ns/repo@digest" or "ns/repo:tag@digest". */
  readonly text: string;
  /** Registry host given in front of the name; only with `allowHost`. */
  readonly host?: string;
}

export interface ParseImageReferenceOptions {
  /**
   * Tag assumed when the reference has neither tag nor digest ("latest" if
   * omitted). `null` makes a tag or digest mandatory, as untag requires.
   */
  readonly defaultTag?: string | null;
  /**
   * Accept and strip a registry host ("us.icr.io/ns/repo"). Off by default
   * because the host decides the region and most callers already know theirs.
   */
  readonly allowHost?: boolean;
}

/** Why a repository name is invalid, or undefined when it is valid. */
export function repositoryNameProblem(name: string): string | undefined {
  if (typeof name !== "string" || name === "") return "repository name is empty";
  if (name.length > REPOSITORY_NAME_MAX_LENGTH) {
    return `repository name is too long: ${name.length} characters, at most ${REPOSITORY_NAME_MAX_LENGTH} allowed`;
  }
  const components = name.split("/");
  for (const component of components) {
    if (component === "") return `repository name "${name}" has an empty path component`;
    if (!COMPONENT.test(component)) {
      const hint = /[A-Z]/.test(component) ? " (use lowercase)" : "";
      return `repository name "${name}" has an invalid component "${component}"${hint}: components are lowercase letters and digits, separated by ".", "_", "__" or dashes`;
    }
  }
  if (components.length < 2) {
    return `repository name "${name}" needs a namespace: write <namespace>/<repository>`;
  }
  const namespace = validateNamespaceName(components[0]!);
  if (!namespace.ok) return `repository name "${name}": ${namespace.message}`;
  return undefined;
}

export function tagProblem(tag: string): string | undefined {
  if (typeof tag !== "string" || tag === "") return "tag is empty";
  if (tag.length > 128) return `tag "${tag.slice(0, 20)}…" is too long: at most 128 characters`;
  if (!TAG_PATTERN.test(tag)) {
    return `tag "${tag}" is invalid: it uses letters, digits, "_", "." and "-", and cannot start with "." or "-"`;
  }
  return undefined;
}

export function digestProblem(digest: string): string | undefined {
  if (typeof digest !== "string" || digest === "") return "digest is empty";
  const shape = DIGEST_SHAPE.exec(digest);
  if (!shape) return `digest "${digest}" is invalid: expected <algorithm>:<hex>, e.g. sha256:…`;
  const algorithm = shape[1]!;
  const encoded = shape[2]!;
  const length = isDigestAlgorithm(algorithm) ? DIGEST_ALGORITHMS[algorithm] : undefined;
  if (length === undefined) {
    return `digest algorithm "${algorithm}" is not supported (use ${Object.keys(DIGEST_ALGORITHMS).join(" or ")})`;
  }
  if (encoded.length !== length || !/^[0-9a-f]+$/.test(encoded)) {
    return `${algorithm} digest must be ${length} lowercase hex characters, got "${encoded}"`;
  }
  return undefined;
}

export const repositoryNameSchema = schemaFrom(repositoryNameProblem);
export const tagSchema = schemaFrom(tagProblem);
export const digestSchema = schemaFrom(digestProblem);

export function parseRepositoryName(name: string): RepositoryName {
  const problem = repositoryNameProblem(name);
  if (problem) throw new InvalidReferenceError(problem, "NAME_INVALID", name);
  const slash = name.indexOf("/");
  return { namespace: name.slice(0, slash), path: name.slice(slash + 1), name };
}

export function isDigestAlgorithm(name: string): name is DigestAlgorithm {
  return Object.hasOwn(DIGEST_ALGORITHMS, name);
}

/** A digest's algorithm and lowercase hex, or InvalidReferenceError (DIGEST_INVALID). */
export function parseDigest(digest: string): { algorithm: DigestAlgorithm; encoded: string } {
  const problem = digestProblem(digest);
  if (problem) throw new InvalidReferenceError(problem, "DIGEST_INVALID", digest);
  const colon = digest.indexOf(":");
  return {
    algorithm: digest.slice(0, colon) as DigestAlgorithm,
    encoded: digest.slice(colon + 1),
  };
}

export function parseImageReference(
  ref: string,
  options: ParseImageReferenceOptions = {},
): ImageReference {
  if (typeof ref !== "string" || ref.trim() === "") {
    throw new InvalidReferenceError("image reference is empty", "NAME_INVALID", String(ref));
  }
  if (/\s/.test(ref)) {
    throw new InvalidReferenceError(
      `image reference "${ref}" contains whitespace`,
      "NAME_INVALID",
      ref,
    );
  }
  const at = ref.indexOf("@");
  if (at !== -1 && ref.indexOf("@", at + 1) !== -1) {
    throw new InvalidReferenceError(
      `image reference "${ref}" has more than one "@"`,
      "DIGEST_INVALID",
      ref,
    );
  }
  const named = at === -1 ? ref : ref.slice(0, at);
  const digest = at === -1 ? undefined : ref.slice(at + 1);
  // A tag follows the last ":" after the last "/"; a ":" before that belongs to a host port.
  const colon = named.lastIndexOf(":");
  const hasTag = colon > named.lastIndexOf("/");
  let name = hasTag ? named.slice(0, colon) : named;
  let tag = hasTag ? named.slice(colon + 1) : undefined;

  let host: string | undefined;
  const first = name.split("/")[0]!;
  if (name.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost")) {
    if (!options.allowHost) {
      throw new InvalidReferenceError(
        `image reference "${ref}" starts with the registry host "${first}"; give <namespace>/<repository>:<tag> without it`,
        "NAME_INVALID",
        ref,
      );
    }
    host = first;
    name = name.slice(first.length + 1);
  }

  const nameProblem = repositoryNameProblem(name);
  if (nameProblem) throw new InvalidReferenceError(nameProblem, "NAME_INVALID", ref);
  if (tag !== undefined) {
    const problem = tagProblem(tag);
    if (problem) throw new InvalidReferenceError(problem, "TAG_INVALID", ref);
  }
  if (digest !== undefined) {
    const problem = digestProblem(digest);
    if (problem) throw new InvalidReferenceError(problem, "DIGEST_INVALID", ref);
  }
  if (tag === undefined && digest === undefined) {
    const defaultTag = options.defaultTag === undefined ? "latest" : options.defaultTag;
    if (defaultTag === null) {
      throw new InvalidReferenceError(
        `image reference "${ref}" needs an explicit tag: write ${name}:<tag>`,
        "TAG_INVALID",
        ref,
      );
    }
    const problem = tagProblem(defaultTag);
    if (problem) throw new InvalidReferenceError(`default ${problem}`, "TAG_INVALID", ref);
    tag = defaultTag;
  }
  const { namespace } = parseRepositoryName(name);
  return {
    namespace,
    repository: name,
    ...(tag !== undefined ? { tag } : {}),
    ...(digest !== undefined ? { digest } : {}),
    text: joinReference(name, tag, digest),
    ...(host !== undefined ? { host } : {}),
  };
}

export function formatImageReference(ref: {
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}): string {
  const nameProblem = repositoryNameProblem(ref.repository);
  if (nameProblem) throw new InvalidReferenceError(nameProblem, "NAME_INVALID", ref.repository);
  if (ref.tag !== undefined) {
    const problem = tagProblem(ref.tag);
    if (problem) throw new InvalidReferenceError(problem, "TAG_INVALID", ref.repository);
  }
  if (ref.digest !== undefined) {
    const problem = digestProblem(ref.digest);
    if (problem) throw new InvalidReferenceError(problem, "DIGEST_INVALID", ref.repository);
  }
  return joinReference(ref.repository, ref.tag, ref.digest);
}

function joinReference(repository: string, tag?: string, digest?: string): string {
  return `${repository}${tag !== undefined ? `:${tag}` : ""}${digest !== undefined ? `@${digest}` : ""}`;
}

function schemaFrom(problem: (value: string) => string | undefined) {
  return z.string().superRefine((value, ctx) => {
    const message = problem(value);
    if (message) ctx.addIssue({ code: "custom", message });
  });
}
