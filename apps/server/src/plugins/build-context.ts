import type { Readable } from "node:stream";
import { apiKeyFrom } from "@berth/api";
import {
  buildLimits,
  ContextBudgetError,
  ContextTooLargeError,
  resolveApiKey,
  stageBuildContext,
} from "@berth/registry";
import { retryAfterSeconds, tooManyFailuresMessage } from "../auth-limit";
import type { BerthPlugin } from "../berth-plugin";

/**
 * `POST /build/context`: upload a build context before `image.build`. The body is the tar
 * (gzip-compressed or not) as raw bytes, with the API key as for `/trpc`
 * (`Authorization: Bearer <key>`). Answers 201 `{ context, size }`; `context` is what
 * `image.build` takes. Uploading is not the audited action: the build that uses the context
 * is, and it fails with its event if the context turns out not to be a tar. A context is the
 * uploading account's alone (in this region), and an account holds a bounded number and size
 * of them: past either, 429 (too many) or 413 (too many bytes) saying which.
 */
export const buildContextRoutes: BerthPlugin = async (app, deps) => {
  app.removeAllContentTypeParsers();
  // The body streams to the blob store: fastify never buffers it.
  app.addContentTypeParser("*", (_req, payload, done) => done(null, payload));
  app.post("/build/context", async (req, reply) => {
    const key = apiKeyFrom(req.headers);
    if (key !== undefined) {
      const wait = deps.authLimit?.blockedFor(req.ip) ?? 0;
      if (wait > 0) {
        deps.metrics.rateLimited.inc({ region: deps.region, surface: "build-context" });
        return reply
          .code(429)
          .header("retry-after", retryAfterSeconds(wait))
          .send({ error: tooManyFailuresMessage(wait) });
      }
    }
    const principal = key ? await resolveApiKey(deps.db, key) : null;
    if (!principal) {
      const reason = key === undefined ? "missing" : "invalid";
      if (reason === "invalid") deps.authLimit?.failed(req.ip);
      deps.metrics.unauthenticated.inc({ region: deps.region, reason });
      req.log.warn({ route: "/build/context" }, "unauthenticated request refused");
      return reply.code(401).send({
        error:
          reason === "invalid"
            ? "the API key is not valid"
            : "an API key is required: send Authorization: Bearer <API key>",
      });
    }
    const maxBytes = buildLimits().contextMaxBytes;
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > maxBytes) {
      reply.header("connection", "close");
      return reply.code(413).send({ error: new ContextTooLargeError(maxBytes).message });
    }
    if (!req.body) {
      return reply
        .code(400)
        .send({ error: "the request body is the build context: a tar archive" });
    }
    try {
      const staged = await stageBuildContext(
        { store: deps.store, accountId: principal.account.id, region: deps.region },
        req.body as Readable,
      );
      req.log.info(
        { account: principal.account.id, context: staged.context, size: staged.size },
        "build context staged",
      );
      return reply.code(201).send(staged);
    } catch (error) {
      if (error instanceof ContextTooLargeError || error instanceof ContextBudgetError) {
        const status = error instanceof ContextBudgetError && error.kind === "count" ? 429 : 413;
        req.log.info(
          { account: principal.account.id, status, reason: error.message },
          "build context refused",
        );
        // Stop reading what the client still sends.
        reply.header("connection", "close");
        return reply.code(status).send({ error: error.message });
      }
      throw error;
    }
  });
};
