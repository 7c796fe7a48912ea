import { DockerfileError } from "@berth/core";
import {
  type BuildImageInput,
  type BuildImageResult,
  type BuildProgress,
  buildImage,
  type RegistryErrorCode,
  toRegistryError,
} from "@berth/registry";
import { authedProcedure, typed } from "../trpc";

/**
 * `image.build` (container-registry.image.build): one subscription that streams the build's
 * progress and ends with its outcome.
 *
 * The context tar is uploaded first (`POST /build/context`, which answers `{ context }`):
 * subscriptions travel as server-sent events whose input is in the URL, so the bytes cannot
 * ride along. The outcome is a message, not a thrown error: tRPC's subscription link
 * reconnects after errors it deems retryable (INTERNAL_SERVER_ERROR among them), and a
 * reconnect would start the build again. A client that disconnects cancels the build, which
 * then fails (and is audited) unless it had already stored the image.
 */

export type BuildMessage =
  | BuildProgress
  | { kind: "done"; result: BuildImageResult }
  | {
      kind: "failed";
      error: {
        code: RegistryErrorCode;
        message: string;
        /** The Dockerfile line the failure is about, when it is about one. */
        line?: number;
      };
    };

export type { BuildImageInput, BuildImageResult, BuildProgress };

const LINE = /^\S+ line (\d+): /;

function failedMessage(thrown: unknown): Extract<BuildMessage, { kind: "failed" }> {
  const error = toRegistryError(thrown);
  const line =
    error.cause instanceof DockerfileError
      ? error.cause.line
      : LINE.exec(error.message)?.[1] !== undefined
        ? Number(LINE.exec(error.message)![1])
        : undefined;
  return {
    kind: "failed",
    error: { code: error.code, message: error.message, ...(line !== undefined ? { line } : {}) },
  };
}

/** A queue the build's callbacks push into and the subscription drains. */
function channel<T>() {
  const items: T[] = [];
  let wake: (() => void) | null = null;
  let closed = false;
  const notify = () => {
    wake?.();
    wake = null;
  };
  return {
    push(item: T) {
      items.push(item);
      notify();
    },
    close() {
      closed = true;
      notify();
    },
    async *drain(): AsyncGenerator<T> {
      for (;;) {
        while (items.length > 0) yield items.shift()!;
        if (closed) return;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
    },
  };
}

export const buildProcedure = authedProcedure
  .input(typed<BuildImageInput>())
  .subscription(async function* ({ ctx, input, signal }): AsyncGenerator<BuildMessage> {
    const messages = channel<BuildMessage>();
    const controller = new AbortController();
    const cancel = () => controller.abort();
    signal?.addEventListener("abort", cancel, { once: true });
    void buildImage(ctx.registry, input, (p) => messages.push(p), { signal: controller.signal })
      .then(
        (result) => messages.push({ kind: "done", result }),
        (error: unknown) => {
          const failed = failedMessage(error);
          if (failed.error.code === "INTERNAL") ctx.deps.onInternalError?.(error, "image.build");
          messages.push(failed);
        },
      )
      .finally(() => messages.close());
    try {
      yield* messages.drain();
    } finally {
      // The client went away before the end: stop the build at its next step.
      controller.abort();
      signal?.removeEventListener("abort", cancel);
    }
  });
