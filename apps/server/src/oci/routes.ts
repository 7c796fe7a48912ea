import type { OciAction, RepositoryAction } from "@berth/registry";

/**
 * The endpoints of the distribution API. Repository names contain slashes, so the
 * router matches `/v2/*` and the path is taken apart here, from its end.
 */
export type OciRoute =
  | { kind: "base" }
  | { kind: "catalog" }
  | { kind: "tags"; name: string }
  | { kind: "manifest"; name: string; reference: string }
  | { kind: "blob"; name: string; digest: string }
  | { kind: "uploads"; name: string }
  | { kind: "upload"; name: string; id: string }
  | { kind: "referrers"; name: string; digest: string };

const PATTERNS: [RegExp, (m: string[]) => OciRoute][] = [
  [/^\/v2\/?$/, () => ({ kind: "base" })],
  [/^\/v2\/_catalog$/, () => ({ kind: "catalog" })],
  [/^\/v2\/(.+)\/tags\/list$/, (m) => ({ kind: "tags", name: m[1]! })],
  [
    /^\/v2\/(.+)\/manifests\/([^/]+)$/,
    (m) => ({ kind: "manifest", name: m[1]!, reference: m[2]! }),
  ],
  [/^\/v2\/(.+)\/blobs\/uploads\/?$/, (m) => ({ kind: "uploads", name: m[1]! })],
  [/^\/v2\/(.+)\/blobs\/uploads\/([^/]+)$/, (m) => ({ kind: "upload", name: m[1]!, id: m[2]! })],
  [/^\/v2\/(.+)\/blobs\/([^/]+)$/, (m) => ({ kind: "blob", name: m[1]!, digest: m[2]! })],
  [/^\/v2\/(.+)\/referrers\/([^/]+)$/, (m) => ({ kind: "referrers", name: m[1]!, digest: m[2]! })],
];

/** The route of a path (without query), or null; percent-escapes are decoded per segment. */
export function matchRoute(path: string): OciRoute | null {
  let decoded: string;
  try {
    decoded = path
      .split("/")
      .map((segment) => decodeURIComponent(segment))
      .join("/");
  } catch {
    return null;
  }
  // A decoded "/" inside a segment would change the meaning of the path.
  if (decoded.split("/").length !== path.split("/").length) return null;
  for (const [pattern, build] of PATTERNS) {
    const m = pattern.exec(decoded);
    if (m) return build(m);
  }
  return null;
}

/** Methods each endpoint answers. */
export const METHODS: Record<OciRoute["kind"], readonly string[]> = {
  base: ["GET", "HEAD"],
  catalog: ["GET"],
  tags: ["GET"],
  manifest: ["GET", "HEAD", "PUT", "DELETE"],
  blob: ["GET", "HEAD", "DELETE"],
  uploads: ["POST"],
  upload: ["GET", "PATCH", "PUT", "DELETE"],
  referrers: ["GET"],
};

/** What a request needs on its repository, and the audited action it is an attempt of. */
export function requirementOf(
  route: OciRoute,
  method: string,
): { action: RepositoryAction; audit?: OciAction } | null {
  switch (route.kind) {
    case "base":
    case "catalog":
      return null;
    case "manifest":
      if (method === "PUT") return { action: "push", audit: "container-registry.image.push" };
      if (method === "DELETE") {
        // By tag it removes the tag (spec 1.1), by digest the manifest.
        return {
          action: "delete",
          audit: route.reference.includes(":")
            ? "container-registry.image.delete"
            : "container-registry.image.untag",
        };
      }
      if (method === "GET") return { action: "pull", audit: "container-registry.image.pull" };
      return { action: "pull" };
    case "blob":
      return method === "DELETE"
        ? { action: "delete", audit: "container-registry.image.delete" }
        : { action: "pull" };
    case "uploads":
      return { action: "push", audit: "container-registry.image.push" };
    case "upload":
      return { action: "push" };
    case "tags":
    case "referrers":
      return { action: "pull" };
  }
}

/** The scope a client should ask for to do `action` (push implies pull, as clients ask). */
export function scopeFor(name: string, action: RepositoryAction): string {
  return `repository:${name}:${action === "push" ? "pull,push" : action}`;
}
