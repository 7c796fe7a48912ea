import type { registryTokens } from "@berth/db";

export type RegistryTokenRow = typeof registryTokens.$inferSelect;

/** What may be shown of a token after its creation: never the secret, never its hash. */
export interface RegistryTokenInfo {
  id: string;
  region: string;
  description: string;
  access: "read" | "readwrite";
  /** ISO time, or null for a non-expiring token. */
  expiresAt: string | null;
  expired: boolean;
  createdBy: string;
  createdAt: string;
  lastUsedAt: string | null;
}

export function tokenInfo(row: RegistryTokenRow, now: Date): RegistryTokenInfo {
  return {
    id: row.id,
    region: row.region,
    description: row.description,
    access: row.access,
    expiresAt: row.expiresAt?.toISOString() ?? null,
    expired: row.expiresAt !== null && row.expiresAt.getTime() <= now.getTime(),
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    lastUsedAt: row.lastUsedAt?.toISOString() ?? null,
  };
}

/** The user name registry clients log in with when they present a registry token. */
export const REGISTRY_TOKEN_USERNAME = "token";
