import type { Principal } from "../context";
import { type AccessEntry, REPOSITORY_ACTIONS, type RepositoryAction } from "./scope";

/**
 * The stored credential a client's access comes from: an API key or a registry token (by
 * row id). A bearer token names the one it was made from, and is good only while that row
 * still is (deleting the key or token ends its bearer tokens too).
 */
export interface CredentialSource {
  kind: "apikey" | "registrytoken";
  id: string;
}

/**
 * An authenticated registry client: who it acts for, what its credential may ever do,
 * and, for a bearer token, the access the token lists.
 */
export interface RegistryCredential {
  principal: Principal;
  source: CredentialSource;
  /**
   * When the credential stops being good: a registry token's expiry, a bearer token's
   * `exp`. Absent: it does not expire (an API key). Tokens made from it end no later.
   */
  expiresAt?: Date;
  /** Actions the underlying credential allows: a read-only registry token only pulls. */
  allowed: readonly RepositoryAction[];
  /**
   * The access list of a bearer token: a token made from it (a refresh) gets no more than
   * this. Absent when the client presented its credential directly (Basic): then `allowed`
   * applies to every repository.
   */
  access?: AccessEntry[];
}

export const ALL_ACTIONS: readonly RepositoryAction[] = REPOSITORY_ACTIONS;
export const READ_ONLY: readonly RepositoryAction[] = ["pull"];

/** Whether the credential may do `action` on repository `name` right now. */
export function permits(cred: RegistryCredential, name: string, action: RepositoryAction): boolean {
  if (!cred.allowed.includes(action)) return false;
  if (!cred.access) return true;
  return cred.access.some(
    (e) => e.type === "repository" && e.name === name && e.actions.includes(action),
  );
}

/** Whether the credential may list the catalog (its own account's repositories). */
export function permitsCatalog(cred: RegistryCredential): boolean {
  if (!cred.access) return true;
  return cred.access.some((e) => e.type === "registry" && e.name === "catalog");
}

/**
 * Why a credential lacks an action: `scope` when a new token could grant it (the client
 * asked for too little; answer with a challenge), `denied` when the credential itself
 * does not allow it (a read-only token pushing; answer DENIED).
 */
export function missing(cred: RegistryCredential, action: RepositoryAction): "scope" | "denied" {
  return cred.allowed.includes(action) ? "scope" : "denied";
}
