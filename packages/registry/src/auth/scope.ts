import { repositoryNameProblem } from "@berth/core";

/** What a credential may do to a repository. */
export const REPOSITORY_ACTIONS = ["pull", "push", "delete"] as const;
export type RepositoryAction = (typeof REPOSITORY_ACTIONS)[number];

/**
 * One entry of a token's access list, as in the Docker token specification:
 * `{type: "repository", name: "ns/app", actions: ["pull", "push"]}`, or
 * `{type: "registry", name: "catalog", actions: ["*"]}` for the catalog.
 */
export interface AccessEntry {
  type: "repository" | "registry";
  name: string;
  actions: string[];
}

export const CATALOG_SCOPE: AccessEntry = { type: "registry", name: "catalog", actions: ["*"] };

/**
 * Parse one scope string: `repository:ns/app:pull,push` (a resource class in parentheses
 * after the type is tolerated and dropped) or `registry:catalog:*`. Null when malformed.
 */
export function parseScope(text: string): AccessEntry | null {
  const first = text.indexOf(":");
  const last = text.lastIndexOf(":");
  if (first <= 0 || last === first) return null;
  const type = text.slice(0, first).replace(/\(.*\)$/, "");
  const name = text.slice(first + 1, last);
  const actions = text
    .slice(last + 1)
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a !== "");
  if (name === "" || actions.length === 0) return null;
  if (type === "repository") return { type, name, actions };
  if (type === "registry") return { type, name, actions };
  return null;
}

/** Scope strings of a request: repeated parameters, each possibly several space-separated scopes. */
export function parseScopes(values: string[]): AccessEntry[] {
  const out: AccessEntry[] = [];
  for (const value of values) {
    for (const part of value.split(" ")) {
      if (part === "") continue;
      const entry = parseScope(part);
      if (entry) out.push(entry);
    }
  }
  return out;
}

export function formatScope(entry: AccessEntry): string {
  return `${entry.type}:${entry.name}:${entry.actions.join(",")}`;
}

/**
 * The part of the requested access a credential gets: repository actions it is allowed
 * (a read-only registry token: pull only) on well-formed names, and the catalog. Whether
 * the namespace is the caller's is checked on every request, not here, so a token never
 * says anything about other accounts' namespaces.
 */
export function grantAccess(
  requested: AccessEntry[],
  allowed: readonly RepositoryAction[],
): AccessEntry[] {
  const byName = new Map<string, Set<string>>();
  let catalog = false;
  for (const entry of requested) {
    if (entry.type === "registry") {
      if (entry.name === "catalog" && entry.actions.includes("*")) catalog = true;
      continue;
    }
    if (repositoryNameProblem(entry.name) !== undefined) continue;
    const wanted = entry.actions.includes("*") ? allowed : entry.actions;
    const granted = byName.get(entry.name) ?? new Set<string>();
    for (const action of wanted) {
      if ((allowed as readonly string[]).includes(action)) granted.add(action);
    }
    byName.set(entry.name, granted);
  }
  const out: AccessEntry[] = [];
  for (const [name, actions] of byName) {
    out.push({
      type: "repository",
      name,
      actions: REPOSITORY_ACTIONS.filter((a) => actions.has(a)),
    });
  }
  if (catalog) out.push(CATALOG_SCOPE);
  return out;
}

/**
 * The part of `granted` that `held` also lists: what a token made from another token may
 * have (a refresh never widens: no other repository, no other action, no catalog unless
 * the presented token had it).
 */
export function intersectAccess(granted: AccessEntry[], held: AccessEntry[]): AccessEntry[] {
  const out: AccessEntry[] = [];
  for (const entry of granted) {
    if (entry.type === "registry") {
      if (held.some((h) => h.type === "registry" && h.name === entry.name)) out.push(entry);
      continue;
    }
    const mine = new Set(
      held
        .filter((h) => h.type === "repository" && h.name === entry.name)
        .flatMap((h) => h.actions),
    );
    out.push({ ...entry, actions: entry.actions.filter((a) => mine.has(a)) });
  }
  return out;
}
