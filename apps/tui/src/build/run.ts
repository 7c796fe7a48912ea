import { randomUUID } from "node:crypto";
import { uploadBuildContext } from "@berth/client";
import type { BerthClient, BuildMessage, BuildProgress, BuildResult } from "../api";
import { USER_AGENT } from "../api";
import { type LocalBuild, packContext } from "./context";

/*
 * One build, as both `berth build` and the build screen run it: tar the context, upload it
 * (`POST /build/context`), then follow the `image.build` subscription to its last message.
 */

export interface BuildRequest extends LocalBuild {
  /** `ns/repo:tag` to build. */
  target: string;
  buildArgs: Record<string, string>;
  sourceDateEpoch?: number;
}

/** What happens along the way: the local steps, then the server's progress messages. */
export type BuildEvent =
  | { kind: "packed"; files: number; bytes: number; compressed: number }
  | { kind: "uploaded"; context: string; size: number }
  | BuildProgress;

export type BuildOutcome =
  | { kind: "done"; result: BuildResult }
  | Extract<BuildMessage, { kind: "failed" }>;

/** The build was stopped by the caller (Ctrl-C, Esc): the server cancels it too. */
export class BuildCancelled extends Error {
  override readonly name = "BuildCancelled";
  constructor() {
    super("build cancelled");
  }
}

/** The connection dropped mid-build: a reconnect would start the build again, so none is made. */
export class BuildConnectionLost extends Error {
  override readonly name = "BuildConnectionLost";
}

export interface BuildConnection {
  url: string;
  apiKey: string | undefined;
}

/**
 * Run a build to its outcome: `done` with the image, or `failed` with the server's reason.
 * Rejects when it could not run at all (upload refused, server unreachable, cancelled).
 */
export async function runBuild(
  client: BerthClient,
  connection: BuildConnection,
  request: BuildRequest,
  onEvent: (event: BuildEvent) => void,
  signal?: AbortSignal,
): Promise<BuildOutcome> {
  const cancelled = () => signal?.aborted === true;
  if (cancelled()) throw new BuildCancelled();
  const requestId = randomUUID();
  let packed: Awaited<ReturnType<typeof packContext>>;
  try {
    packed = await packContext(request.dir, signal);
  } catch (error) {
    if (cancelled()) throw new BuildCancelled();
    throw error;
  }
  onEvent({
    kind: "packed",
    files: packed.files,
    bytes: packed.bytes,
    compressed: packed.tar.length,
  });
  let uploaded: Awaited<ReturnType<typeof uploadBuildContext>>;
  try {
    uploaded = await uploadBuildContext(
      {
        url: connection.url,
        ...(connection.apiKey ? { apiKey: connection.apiKey } : {}),
        headers: { "user-agent": USER_AGENT },
        fetch: (input, init) => fetch(input, { ...init, ...(signal ? { signal } : {}) }),
      },
      packed.tar,
      { requestId },
    );
  } catch (error) {
    if (cancelled()) throw new BuildCancelled();
    throw error;
  }
  onEvent({ kind: "uploaded", ...uploaded });
  if (cancelled()) throw new BuildCancelled();

  return new Promise<BuildOutcome>((resolve, reject) => {
    let settled = false;
    let connected = false;
    const finish = (outcome: BuildOutcome | Error) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      sub.unsubscribe();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    const onAbort = () => finish(new BuildCancelled());
    const sub = client.image.build.subscribe(
      {
        target: request.target,
        context: uploaded.context,
        dockerfile: request.dockerfile,
        buildArgs: request.buildArgs,
        ...(request.sourceDateEpoch !== undefined
          ? { sourceDateEpoch: request.sourceDateEpoch }
          : {}),
      },
      {
        context: { requestId },
        onData: (m: BuildMessage) => {
          if (settled) return;
          if (m.kind === "done" || m.kind === "failed") finish(m);
          else onEvent(m);
        },
        onError: (error) => finish(error),
        onComplete: () => finish(new Error("the build ended without a result")),
        onConnectionStateChange: (state) => {
          if (state.state === "pending") connected = true;
          else if (state.state === "connecting" && state.error) {
            // The link would reconnect, and the server would build again: stop here.
            finish(
              connected
                ? new BuildConnectionLost(
                    `lost the connection to the server during the build: ${state.error.message}`,
                  )
                : state.error,
            );
          }
        },
      },
    );
    if (signal?.aborted) onAbort();
    else signal?.addEventListener("abort", onAbort, { once: true });
  });
}
