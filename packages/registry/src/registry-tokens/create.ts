import { registryTokens } from "@berth/db";
import { v7 as uuidv7 } from "uuid";
import { z } from "zod";
import { generateSecret, hashSecret, REGISTRY_TOKEN_PREFIX } from "../accounts/secrets";
import { runAudited } from "../audit";
import { accountId, nowOf, type RegistryContext } from "../context";
import { REGISTRY_TOKEN_USERNAME, type RegistryTokenInfo, tokenInfo } from "./model";

export const REGISTRY_TOKEN_TTL_MS = 24 * 60 * 60 * 1000;

export const createRegistryTokenInput = z.object({
  description: z
    .string()
    .max(300)
    .refine(
      (text) => ![...text].some((c) => c < " " || c === "\u007f"),
      "must be one line of text, without control characters",
    )
    .default(""),
  /** Read-only unless read-write is asked for. */
  access: z.enum(["read", "readwrite"]).default("read"),
  /** Tokens expire after 24 hours unless asked otherwise. */
  nonExpiring: z.boolean().default(false),
});
export type CreateRegistryTokenInput = z.input<typeof createRegistryTokenInput>;

export interface CreatedRegistryToken extends RegistryTokenInfo {
  /** The secret: shown this once, stored only as a hash. */
  secret: string;
  /** Log in with this user name and the secret as password. */
  username: string;
}

/** container-registry.registrytoken.create (an extension of the original catalog). */
export function createRegistryToken(
  ctx: RegistryContext,
  raw: unknown,
): Promise<CreatedRegistryToken> {
  // The id is chosen first so that even a failed attempt names the token it would have made.
  const id = uuidv7();
  return runAudited(ctx, {
    action: "container-registry.registrytoken.create",
    failure: () => [{ target: { name: id }, messageDetail: id }],
    execute: async (tx) => {
      const input = createRegistryTokenInput.parse(raw ?? {});
      const now = nowOf(ctx);
      const secret = generateSecret(REGISTRY_TOKEN_PREFIX);
      const [row] = await tx
        .insert(registryTokens)
        .values({
          id,
          accountId: accountId(ctx),
          region: ctx.region,
          description: input.description,
          access: input.access,
          secretHash: hashSecret(secret),
          expiresAt: input.nonExpiring ? null : new Date(now.getTime() + REGISTRY_TOKEN_TTL_MS),
          createdBy: ctx.principal.user.id,
          createdAt: now,
        })
        .returning();
      const info = tokenInfo(row!, now);
      return {
        result: { ...info, secret, username: REGISTRY_TOKEN_USERNAME },
        records: [
          {
            target: { name: id },
            messageDetail: id,
            status: 201,
            requestData: { access: input.access, nonExpiring: input.nonExpiring },
            responseData: { tokenId: id, expiresAt: info.expiresAt },
          },
        ],
      };
    },
  });
}
