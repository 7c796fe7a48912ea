import { randomBytes } from "node:crypto";
import { CREDENTIAL_TYPES } from "@berth/core";
import { errors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import type { RegistryCredential } from "./credential";
import { type AccessEntry, grantAccess, intersectAccess, REPOSITORY_ACTIONS } from "./scope";

/**
 * Bearer tokens live five minutes, long enough for a push. Each use is still checked
 * against the credential it was made from (authenticate.ts), so deleting that credential
 * ends them at once; a refresh never outlives the token presented.
 */
export const BEARER_TTL_SECONDS = 300;
export const BEARER_ISSUER = "berth";
export const BEARER_USERNAME = "iambearer";
const ALGORITHM = "HS256";
const MIN_SECRET_BYTES = 32;
/** Verified tokens remembered per process (a few KB each at most). */
const VERIFIED_CACHE_SIZE = 1000;

function cloneCredential(cred: RegistryCredential): RegistryCredential {
  return {
    principal: {
      account: { ...cred.principal.account },
      user: { ...cred.principal.user },
      credentialType: cred.principal.credentialType,
    },
    source: { ...cred.source },
    ...(cred.expiresAt ? { expiresAt: new Date(cred.expiresAt) } : {}),
    allowed: [...cred.allowed],
    ...(cred.access ? { access: cred.access.map((e) => ({ ...e, actions: [...e.actions] })) } : {}),
  };
}

export interface BearerTokenOptions {
  /** Audience of the tokens: the `service` of the auth challenge (one per region). */
  service: string;
  /**
   * HMAC key (at least 32 bytes). Processes that serve the same region must share it;
   * default: random per process, so tokens die with it (clients just ask again).
   */
  secret?: string | Uint8Array;
  ttlSeconds?: number;
  now?: () => Date;
}

export interface IssuedToken {
  token: string;
  expiresIn: number;
  issuedAt: Date;
  access: AccessEntry[];
}

const accessSchema = z.array(
  z.object({
    type: z.enum(["repository", "registry"]),
    name: z.string(),
    actions: z.array(z.string()),
  }),
);
const claimsSchema = z.object({
  sub: z.string().min(1),
  acct: z.object({ id: z.string().min(1), name: z.string() }),
  usr: z.object({ name: z.string(), kind: z.enum(["user", "serviceid"]) }),
  cred: z.enum(CREDENTIAL_TYPES),
  src: z.object({ kind: z.enum(["apikey", "registrytoken"]), id: z.uuid() }),
  max: z.array(z.enum(REPOSITORY_ACTIONS)),
  access: accessSchema,
});

/**
 * Short-lived JWTs (HS256, jose) for the registry's bearer flow. A token names the
 * principal (so requests need no database lookup to authenticate), what its credential
 * allows at most, and the access it was granted; it is checked on every request.
 */
export class BearerTokens {
  readonly service: string;
  private readonly key: Uint8Array;
  private readonly ttl: number;
  private readonly now: () => Date;
  private readonly verified = new Map<string, { cred: RegistryCredential; expiresAt: number }>();

  constructor(opts: BearerTokenOptions) {
    this.service = opts.service;
    const secret =
      opts.secret === undefined
        ? randomBytes(MIN_SECRET_BYTES)
        : typeof opts.secret === "string"
          ? new TextEncoder().encode(opts.secret)
          : opts.secret;
    if (secret.byteLength < MIN_SECRET_BYTES) {
      throw new Error(`the bearer token secret must be at least ${MIN_SECRET_BYTES} bytes`);
    }
    this.key = secret;
    this.ttl = opts.ttlSeconds ?? BEARER_TTL_SECONDS;
    this.now = opts.now ?? (() => new Date());
  }

  private remember(token: string, cred: RegistryCredential, expiresAt: number): void {
    if (this.verified.size >= VERIFIED_CACHE_SIZE) {
      // Oldest first (insertion order); tokens are short-lived anyway.
      const oldest = this.verified.keys().next().value;
      if (oldest !== undefined) this.verified.delete(oldest);
    }
    this.verified.set(token, { cred, expiresAt });
  }

  /**
   * A token for `cred` with the part of `requested` it may have. When `cred` is itself a
   * bearer token (a refresh), that is no more than the presented token's access, and the
   * new token expires no later than it did: exchanging tokens neither widens nor extends.
   */
  async issue(cred: RegistryCredential, requested: AccessEntry[]): Promise<IssuedToken> {
    const issuedAt = this.now();
    const iat = Math.floor(issuedAt.getTime() / 1000);
    const granted = grantAccess(requested, cred.allowed);
    const access = cred.access ? intersectAccess(granted, cred.access) : granted;
    const exp = cred.expiresAt
      ? Math.min(iat + this.ttl, Math.floor(cred.expiresAt.getTime() / 1000))
      : iat + this.ttl;
    const { principal } = cred;
    const token = await new SignJWT({
      acct: principal.account,
      usr: { name: principal.user.name, kind: principal.user.kind },
      cred: principal.credentialType,
      src: cred.source,
      max: [...cred.allowed],
      access,
    })
      .setProtectedHeader({ alg: ALGORITHM, typ: "JWT" })
      .setIssuer(BEARER_ISSUER)
      .setAudience(this.service)
      .setSubject(principal.user.id)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .setJti(randomBytes(12).toString("base64url"))
      .sign(this.key);
    return { token, expiresIn: Math.max(0, exp - iat), issuedAt, access };
  }

  /**
   * The credential a token stands for, or null when it is invalid, expired or for another
   * service. Signature and claims only: whether the credential behind it still exists is
   * the caller's check (verifyBearer).
   */
  async verify(token: string): Promise<RegistryCredential | null> {
    if (typeof token !== "string" || token === "" || token.length > 16_384) return null;
    // A client sends the same token with every request of a push or pull: verified once,
    // it is then looked up (still checked against its expiry on this clock).
    const known = this.verified.get(token);
    if (known) {
      if (this.now().getTime() < known.expiresAt) return cloneCredential(known.cred);
      this.verified.delete(token);
    }
    try {
      const { payload } = await jwtVerify(token, this.key, {
        algorithms: [ALGORITHM],
        issuer: BEARER_ISSUER,
        audience: this.service,
        currentDate: this.now(),
        clockTolerance: 5,
      });
      const claims = claimsSchema.safeParse(payload);
      if (!claims.success) return null;
      const c = claims.data;
      const cred: RegistryCredential = {
        principal: {
          account: c.acct,
          user: { id: c.sub, name: c.usr.name, kind: c.usr.kind },
          credentialType: c.cred,
        },
        source: c.src,
        expiresAt: new Date((payload.exp ?? 0) * 1000),
        allowed: c.max,
        access: c.access,
      };
      this.remember(token, cred, (payload.exp ?? 0) * 1000);
      return cloneCredential(cred);
    } catch (error) {
      if (error instanceof errors.JOSEError) return null;
      throw error;
    }
  }
}
