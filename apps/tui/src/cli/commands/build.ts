import { BuildContextUploadError } from "@berth/client";
import { parseBuildArgs } from "../../build/args";
import { BuildInputError, locateBuild, quoteLine } from "../../build/context";
import { BuildCancelled, type BuildEvent, runBuild } from "../../build/run";
import { formatBytes } from "../../format";
import { CommandFailed, UsageError } from "../errors";
import type { Command, CommandContext } from "../types";

/**
 * `berth build [PATH] -t ns/repo:tag`: progress on stderr as it comes (`Step i/N : ...`),
 * the digest on stdout; `--output json` prints the result alone, and progress not at all.
 */

const EPOCH = /^\d{1,12}$/;

/** One line of progress for a terminal, docker-style; undefined for what it leaves out. */
export function progressLine(e: BuildEvent): string | undefined {
  switch (e.kind) {
    case "packed":
      return `Sending build context: ${e.files} file${e.files === 1 ? "" : "s"}, ${formatBytes(e.bytes)} (${formatBytes(e.compressed)} compressed)`;
    case "start":
      return `Building ${e.target} from ${e.dockerfile}: ${e.steps} step${e.steps === 1 ? "" : "s"}, context ${e.context.files} file${e.context.files === 1 ? "" : "s"} (${formatBytes(e.context.bytes)})`;
    case "step":
      return `Step ${e.step}/${e.steps} : ${e.instruction}`;
    case "info":
    case "queued":
      return ` ---> ${e.message}`;
    default:
      // The upload's id, layers (their info line says it) and the stored image (the end says it).
      return undefined;
  }
}

function uploadFailure(error: BuildContextUploadError): CommandFailed {
  const code =
    error.status === 401 ? "UNAUTHORIZED" : error.status === 413 ? "TOO_LARGE" : "UPLOAD_FAILED";
  return new CommandFailed(
    error.status === 401 || error.status === 413 ? error.reason : error.message,
    code,
  );
}

function epochOf(ctx: CommandContext, given: string | undefined): number | undefined {
  const text = given ?? ctx.io.env.SOURCE_DATE_EPOCH;
  if (text === undefined || text === "") return undefined;
  if (!EPOCH.test(text)) {
    throw new UsageError(
      `${given !== undefined ? "--source-date-epoch" : "SOURCE_DATE_EPOCH"} takes seconds since 1970, not "${text}"`,
    );
  }
  return Number(text);
}

export const buildCommand: Command = {
  name: "build",
  args: "[PATH]",
  summary: "build an image from a Dockerfile (-t ns/repo:tag)",
  example: "berth build . -t birds/robin:1.0 --build-arg VERSION=1",
  options: {
    tag: { type: "string", short: "t", multiple: true, help: "the image to build: ns/repo:tag" },
    file: {
      type: "string",
      short: "f",
      help: "the Dockerfile, inside PATH (default PATH/Dockerfile)",
    },
    "build-arg": {
      type: "string",
      multiple: true,
      help: "NAME=value for an ARG (repeat); NAME alone takes $NAME",
    },
    "source-date-epoch": {
      type: "string",
      help: "time of files and image, in seconds (default $SOURCE_DATE_EPOCH, else 0)",
    },
    quiet: { type: "boolean", short: "q", help: "no progress, only the digest" },
  },
  max: 1,
  async run(ctx) {
    const tags = (ctx.opts.tag as string[] | undefined) ?? [];
    if (tags.length === 0) throw new UsageError("build needs the image to build: -t ns/repo:tag");
    if (tags.length > 1) {
      throw new UsageError("build takes one -t; add more tags afterwards with berth image-tag");
    }
    const file = typeof ctx.opts.file === "string" ? ctx.opts.file : undefined;
    const epochText = ctx.opts["source-date-epoch"];
    const client = ctx.client();
    let local: Awaited<ReturnType<typeof locateBuild>>;
    let buildArgs: Record<string, string>;
    try {
      buildArgs = parseBuildArgs((ctx.opts["build-arg"] as string[] | undefined) ?? [], ctx.io.env);
      local = await locateBuild(ctx.args[0] ?? ".", file, process.cwd());
    } catch (error) {
      if (error instanceof BuildInputError) throw new UsageError(error.message);
      throw error;
    }
    const sourceDateEpoch = epochOf(ctx, typeof epochText === "string" ? epochText : undefined);
    const err = ctx.io.stderr;
    const verbose = !ctx.json && ctx.opts.quiet !== true;
    let outcome: Awaited<ReturnType<typeof runBuild>>;
    try {
      outcome = await runBuild(
        client,
        { url: ctx.target.url!, apiKey: ctx.target.apiKey },
        {
          ...local,
          target: tags[0]!,
          buildArgs,
          ...(sourceDateEpoch !== undefined ? { sourceDateEpoch } : {}),
        },
        (e) => {
          const line = verbose ? progressLine(e) : undefined;
          if (line !== undefined) err.write(`${line}\n`);
        },
        ctx.io.signal,
      );
    } catch (error) {
      if (error instanceof BuildCancelled) {
        throw new CommandFailed("build cancelled: the server stops it", "CANCELLED");
      }
      if (error instanceof BuildContextUploadError) throw uploadFailure(error);
      throw error;
    }
    if (outcome.kind === "failed") {
      const { code, message, line } = outcome.error;
      const quoted = quoteLine(local.dockerfileText, line);
      if (!ctx.json && quoted !== undefined) err.write(`${quoted}\n`);
      const located =
        line !== undefined && !/\bline \d+\b/.test(message)
          ? `${local.dockerfile} line ${line}: ${message}`
          : message;
      throw new CommandFailed(located, code, line !== undefined ? { line } : {});
    }
    const r = outcome.result;
    if (verbose) {
      err.write(
        `Successfully built ${r.target}: ${r.layers.length} layer${r.layers.length === 1 ? "" : "s"}, ${formatBytes(r.size)}${r.created ? "" : " (the repository already held this image)"}\n`,
      );
    }
    return { data: r, text: r.digest };
  },
};
