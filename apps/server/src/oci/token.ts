import {
  type AuthDeps,
  authenticate,
  authenticateBasic,
  type BearerTokens,
  formatScope,
  type IssuedToken,
  parseAuthorization,
  parseScopes,
  type RegistryCredential,
} from "@berth/registry";
import formbody from "@fastify/formbody";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { RegionAppDeps } from "../berth-plugin";
import { refuseRateLimited, TOKEN_PATH } from "./auth";
import { queryParams } from "./call";
import { sendError } from "./reply";

/**
 * The token endpoint of the bearer flow. GET with Basic credentials (Docker token
 * specification: `service`, repeated `scope`), and POST with a form for OAuth2 clients
 * (`grant_type=password` with `username`, `password`, space-separated `scope`). Both issue
 * a short-lived JWT listing the repository actions granted. A bearer token presented here
 * (a refresh) gets at most its own access and expiry, and only while the API key or registry
 * token behind it exists. Not an audited action; refused credentials are counted and logged
 * like any unauthenticated request.
 */
export async function tokenRoutes(
  app: FastifyInstance,
  deps: RegionAppDeps,
  auth: AuthDeps & { tokens: BearerTokens },
): Promise<void> {
  await app.register(formbody, { bodyLimit: 64 * 1024 });

  const refuse = (req: FastifyRequest, reason: "missing" | "invalid") => {
    deps.metrics.unauthenticated.inc({ region: deps.region, reason });
    req.log.info({ reason }, "token request refused");
  };

  const limited = (req: FastifyRequest, reply: FastifyReply) => {
    const wait = deps.authLimit?.blockedFor(req.ip) ?? 0;
    return wait > 0 ? refuseRateLimited(deps, req, reply, wait, "token") : undefined;
  };

  app.get(TOKEN_PATH, async (req, reply) => {
    if (req.headers.authorization !== undefined) {
      const refused = limited(req, reply);
      if (refused) return refused;
    }
    const header = parseAuthorization(req.headers.authorization);
    let cred: RegistryCredential | null = null;
    try {
      // A bearer token (Bearer, or Basic iambearer) is good only while the credential it
      // was made from is; what it gets is bounded by it (BearerTokens.issue).
      if (header) cred = await authenticate(auth, header);
    } catch (error) {
      return sendError(req, reply, error);
    }
    if (!cred) {
      if (req.headers.authorization !== undefined) deps.authLimit?.failed(req.ip);
      refuse(req, header ? "invalid" : "missing");
      return reply
        .code(401)
        .header("www-authenticate", 'Basic realm="Berth registry"')
        .send({
          errors: [
            {
              code: "UNAUTHORIZED",
              message: header
                ? "the credentials are invalid or expired"
                : "log in with iamapikey and an API key, token and a registry token, or iambearer and a bearer token",
            },
          ],
        });
    }
    const issued = await auth.tokens.issue(cred, parseScopes(queryParams(req, "scope")));
    logIssued(req, cred, issued);
    return reply.header("cache-control", "no-store").send({
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt.toISOString(),
    });
  });

  app.post(TOKEN_PATH, async (req, reply) => {
    const form = (req.body ?? {}) as Record<string, unknown>;
    const text = (key: string) => (typeof form[key] === "string" ? (form[key] as string) : "");
    const grant = text("grant_type");
    if (grant !== "password") {
      return reply.code(400).send({
        error: "unsupported_grant_type",
        error_description: "only grant_type=password is supported (no refresh tokens)",
      });
    }
    if (text("username") !== "" || text("password") !== "") {
      const refused = limited(req, reply);
      if (refused) return refused;
    }
    let cred: RegistryCredential | null;
    try {
      cred = await authenticateBasic(auth, text("username"), text("password"));
    } catch (error) {
      return sendError(req, reply, error);
    }
    if (!cred) {
      if (text("username") !== "" || text("password") !== "") deps.authLimit?.failed(req.ip);
      refuse(req, text("username") === "" ? "missing" : "invalid");
      return reply.code(401).send({
        error: "invalid_grant",
        error_description: "the credentials are invalid or expired",
      });
    }
    const issued = await auth.tokens.issue(cred, parseScopes([text("scope")]));
    logIssued(req, cred, issued);
    return reply.header("cache-control", "no-store").send({
      access_token: issued.token,
      token_type: "Bearer",
      expires_in: issued.expiresIn,
      scope: issued.access.map(formatScope).join(" "),
      issued_at: issued.issuedAt.toISOString(),
    });
  });
}

function logIssued(req: FastifyRequest, cred: RegistryCredential, issued: IssuedToken): void {
  req.log.info(
    {
      account: cred.principal.account.id,
      credential: cred.principal.credentialType,
      access: issued.access.map(formatScope),
    },
    "bearer token issued",
  );
}
