import { STATUS_CODES } from "node:http";
import { type OciErrorInfo, ociErrorInfo } from "@berth/registry";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";

export const API_VERSION_HEADER = "docker-distribution-api-version";
export const API_VERSION = "registry/2.0";
/** Seconds a client should wait before retrying a request refused while a dependency is down. */
export const RETRY_AFTER_SECONDS = "5";

/** The spec's error body: `{"errors":[{"code","message","detail"}]}`. */
export function errorBody(info: Pick<OciErrorInfo, "code" | "message">, detail?: unknown) {
  return {
    errors: [
      { code: info.code, message: info.message, ...(detail === undefined ? {} : { detail }) },
    ],
  };
}

/**
 * Answer with the OCI error of `error`, logging it: internal errors with their cause (the
 * response says only "internal error"), refusals as information.
 */
export function sendError(
  req: FastifyRequest,
  reply: FastifyReply,
  error: unknown,
  headers: Record<string, string> = {},
): FastifyReply {
  const info = ociErrorInfo(error);
  if (info.status === 503 || info.status === 507) {
    req.log.warn({ err: (error as { cause?: unknown })?.cause ?? error }, info.message);
    const retry: Record<string, string> =
      info.status === 503 ? { "retry-after": RETRY_AFTER_SECONDS } : {};
    return sendErrorInfo(req, reply, info, { ...retry, ...headers });
  }
  if (info.status >= 500) {
    const cause = (error as { cause?: unknown })?.cause ?? error;
    req.log.error({ err: cause }, "OCI request failed");
  } else {
    req.log.info(
      { code: info.code, status: info.status, reason: info.message },
      "OCI request refused",
    );
  }
  return sendErrorInfo(req, reply, info, headers);
}

export function sendErrorInfo(
  req: FastifyRequest,
  reply: FastifyReply,
  info: Pick<OciErrorInfo, "code" | "message" | "status">,
  headers: Record<string, string> = {},
): FastifyReply {
  reply.code(info.status).headers(headers);
  if (req.method === "HEAD") return reply.send();
  return reply.type("application/json").send(errorBody(info));
}

/**
 * For Fastify's `frameworkErrors`: a request its router refused before any route ran (a path
 * whose percent-escapes decode to no UTF-8 text), answered on /v2 in the distribution API's
 * shape; elsewhere as Fastify would.
 */
export function answerUnroutable(error: FastifyError, req: FastifyRequest, reply: FastifyReply) {
  if (!/^\/v2(\/|$|\?)/.test(req.url)) {
    // As Fastify answers when no frameworkErrors is given (tRPC's paths are compared with it).
    const status = error.statusCode ?? 400;
    return reply
      .code(status)
      .header("content-type", "application/json")
      .send(
        // A Buffer: Fastify would add a charset to a string's type, which it does not itself.
        Buffer.from(
          JSON.stringify({
            error: STATUS_CODES[status],
            code: error.code,
            message: error.message,
            statusCode: status,
          }),
        ),
      );
  }
  reply.header(API_VERSION_HEADER, API_VERSION);
  return sendErrorInfo(req, reply, {
    code: "NAME_INVALID",
    status: 400,
    message:
      error.code === "FST_ERR_BAD_URL" ? "the path is not percent-encoded UTF-8" : error.message,
  });
}
