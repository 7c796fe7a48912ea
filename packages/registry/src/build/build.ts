import {
  cleanContextPath,
  containsSecrets,
  DockerfileError,
  type IgnoreMatcher,
  parseDockerignore,
  parseImageReference,
  readDockerfile,
} from "@berth/core";
import type { DbOrTx } from "@berth/db";
import { z } from "zod";
import { type AuditRecord, field, runAudited, writeFailureEvents } from "../audit";
import { nowOf, type RegistryContext } from "../context";
import { RegistryError, toRegistryError } from "../errors";
import { MEDIA_TYPES } from "../images/manifest";
import {
  ensureRepository,
  holdBlobsAgainstGc,
  recordBlob,
  writeManifestRows,
} from "../images/records";
import { imageTarget, rawImageName } from "../images/resolve";
import { requireNamespace } from "../namespaces/lookup";
import { checkStorageQuota } from "../oci/quota";
import { resolveBase } from "./base";
import { BudgetExceededError, BuildBudget } from "./budget";
import { applyIgnore } from "./context";
import { evaluate } from "./evaluate";
import { buildLimits } from "./limits";
import type { ProgressListener } from "./progress";
import { inBuildSlot } from "./queue";
import { loadStagedContext } from "./staged";
import { sha256 } from "./tar-io";

const ACTION = "container-registry.image.build";
const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const MAX_BUILD_ARGS = 100;
/**
 * Build args in all, as JSON. The image.build subscription carries its input in a URL (server-
 * sent events), which servers cap at a few kilobytes.
 */
export const MAX_BUILD_ARGS_BYTES = 8 * 1024;
/** Latest SOURCE_DATE_EPOCH accepted: 9999-12-31T23:59:59Z. */
const MAX_EPOCH = 253402300799;

export const buildImageInput = z.strictObject({
  /** `ns/repo:tag` to build; no tag means latest. */
  target: z.string().min(1).max(300),
  /** The id `POST /build/context` returned for the uploaded context tar. */
  context: z.string().min(1).max(200),
  /** Path of the Dockerfile inside the context. */
  dockerfile: z.string().min(1).max(1000).default("Dockerfile"),
  /** Values of the Dockerfile's ARGs. Their values never appear in events. */
  buildArgs: z
    .record(z.string().regex(ARG_NAME, "is not an ARG name"), z.string().max(MAX_BUILD_ARGS_BYTES))
    .refine((r) => Object.keys(r).length <= MAX_BUILD_ARGS, `at most ${MAX_BUILD_ARGS} build args`)
    .refine(
      (r) => JSON.stringify(r).length <= MAX_BUILD_ARGS_BYTES,
      `build args take at most ${MAX_BUILD_ARGS_BYTES} characters in all`,
    )
    .default({}),
  /**
   * Timestamp of every file and of the image (seconds since 1970, like SOURCE_DATE_EPOCH);
   * default 0. Builds are reproducible whatever it is; it only changes what `created` says.
   */
  sourceDateEpoch: z.int().min(0).max(MAX_EPOCH).optional(),
});
export type BuildImageInput = z.input<typeof buildImageInput>;

export interface BuildImageResult {
  /** `ns/repo:tag` built. */
  target: string;
  repository: string;
  tag: string;
  /** Digest of the image manifest. */
  digest: string;
  mediaType: string;
  configDigest: string;
  /** Manifest, config and every layer (compressed). */
  size: number;
  layers: { digest: string; size: number; reused: boolean }[];
  /** The base image (`scratch` when none) and its digest. */
  base: { reference: string; digest: string | null };
  /** False when the repository already held this exact image (a rebuild). */
  created: boolean;
}

export interface BuildOptions {
  /** Aborting cancels the build before it stores anything (a client that went away). */
  signal?: AbortSignal;
}

/**
 * container-registry.image.build: run a Dockerfile over an uploaded context, store the image
 * the way a push does (new blobs recorded and linked, base layers linked, not copied; the
 * manifest and its tag) and write the event, all in one transaction. The work before it
 * (reading the context, making layers, writing their blobs) happens outside any transaction;
 * a failure there writes the failure event and leaves no row, and the blobs it wrote are
 * linked to nothing, count toward no quota, and are left to blob garbage collection.
 */
export async function buildImage(
  ctx: RegistryContext,
  raw: unknown,
  onProgress: ProgressListener = () => {},
  opts: BuildOptions = {},
): Promise<BuildImageResult> {
  const targetName = rawImageName(field(raw, "target"));
  const requestData = safeRequestData(raw);
  const failure = (): AuditRecord[] => [
    { target: imageTarget(targetName), messageDetail: targetName, requestData },
  ];
  let prepared: Prepared;
  try {
    prepared = await inBuildSlot(
      ctx.principal.account.id,
      () => prepare(ctx, raw, onProgress, opts),
      {
        ...(opts.signal ? { signal: opts.signal } : {}),
        onQueued: (q) => {
          const limits = buildLimits();
          onProgress({
            kind: "queued",
            ahead: q.ahead,
            message: `queued: ${q.runningForAccount >= limits.concurrentBuildsPerAccount ? `your account already runs ${q.runningForAccount} build${q.runningForAccount === 1 ? "" : "s"} (at most ${limits.concurrentBuildsPerAccount} at once)` : `the server runs ${q.running} builds (at most ${limits.concurrentBuilds} at once)`}, ${q.ahead} waiting before this one`,
          });
        },
      },
    ).catch((thrown: unknown) => {
      if (opts.signal?.aborted) throw canceled();
      throw thrown;
    });
  } catch (thrown) {
    const error = asBuildError(thrown, raw);
    await writeFailureEvents(ctx, ACTION, failure(), error);
    throw error;
  }
  const result = await runAudited(ctx, {
    action: ACTION,
    failure,
    execute: async (tx) => {
      const stored = await commit(tx, ctx, prepared);
      return {
        result: stored,
        records: [
          {
            target: imageTarget(targetName, prepared.repository, stored.digest),
            messageDetail: targetName,
            status: 201,
            requestData,
            responseData: {
              digest: stored.digest,
              size: stored.size,
              layers: stored.layers.length,
              created: stored.created,
            },
          },
        ],
      };
    },
  }).catch((thrown: unknown) => {
    throw asBuildError(thrown, raw);
  });
  onProgress({ kind: "stored", digest: result.digest, target: result.target });
  return result;
}

interface Prepared {
  target: string;
  repository: string;
  namespace: string;
  tag: string;
  manifest: Buffer;
  configBytes: Buffer;
  configDigest: string;
  newBlobs: { digest: string; size: number; mediaType: string; bytes: Buffer }[];
  layers: { digest: string; size: number; reused: boolean }[];
  base: { reference: string; digest: string | null };
}

async function prepare(
  ctx: RegistryContext,
  raw: unknown,
  onProgress: ProgressListener,
  opts: BuildOptions,
): Promise<Prepared> {
  const checkCanceled = () => {
    if (opts.signal?.aborted) throw canceled();
  };
  const input = buildImageInput.parse(raw);
  const ref = parseImageReference(input.target, { defaultTag: "latest" });
  if (ref.digest) {
    throw new RegistryError(
      "BAD_REQUEST",
      `the build target ${ref.text} names a digest: name a tag (ns/repo:tag), the digest comes from the build`,
    );
  }
  await requireNamespace(ctx.db, ctx, ref.namespace);
  await checkStorageQuota(ctx.db, ctx);
  const dockerfilePath = cleanContextPath(input.dockerfile.replace(/^\/+/, ""));
  if (dockerfilePath === null || dockerfilePath === "") {
    throw new RegistryError(
      "BAD_REQUEST",
      `dockerfile "${input.dockerfile}" is not a path inside the build context`,
    );
  }
  // One budget for everything the build unpacks: the context, ADDed archives, base layers.
  const budget = new BuildBudget();
  const files = await loadStagedContext(ctx, input.context, budget);
  checkCanceled();
  const dockerfileEntry = files.entries.get(dockerfilePath);
  if (dockerfileEntry?.type !== "file") {
    throw new RegistryError(
      "BAD_REQUEST",
      `the build context has no ${dockerfilePath}: add the Dockerfile to the context, or name it with dockerfile`,
    );
  }
  const decoded = readDockerfile(dockerfileEntry.content!.toString("utf8"), dockerfilePath);
  const ignoreEntry = files.entries.get(".dockerignore");
  const ignore: IgnoreMatcher | null =
    ignoreEntry?.type === "file" ? parseDockerignore(ignoreEntry.content!.toString("utf8")) : null;
  let context: Awaited<ReturnType<typeof applyIgnore>>;
  try {
    context = await applyIgnore(files, ignore, budget);
  } catch (error) {
    if (error instanceof BudgetExceededError) throw new RegistryError("BAD_REQUEST", error.message);
    throw error;
  }
  const total = decoded.globalArgs.length + 1 + decoded.steps.length;
  onProgress({
    kind: "start",
    target: ref.text,
    dockerfile: dockerfilePath,
    steps: total,
    context: {
      files: [...context.values()].filter((e) => e.type !== "dir").length,
      bytes: files.bytes,
    },
  });
  const epoch = input.sourceDateEpoch ?? 0;
  const image = await evaluate({
    dockerfile: decoded,
    file: dockerfilePath,
    buildArgs: input.buildArgs,
    context,
    ignored: (path) => ignore?.ignores(path) ?? false,
    epoch,
    store: ctx.store,
    budget,
    resolveBase: (reference, platform, line) =>
      resolveBase(ctx, dockerfilePath, reference, platform, line),
    onProgress,
    checkCanceled,
  });
  checkCanceled();

  const configBytes = Buffer.from(JSON.stringify(image.config));
  const configDigest = sha256(configBytes);
  const baseLayers = image.base?.layers ?? [];
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, digest: configDigest, size: configBytes.length },
      layers: [
        ...baseLayers,
        ...image.layers.map((l) => ({
          mediaType: MEDIA_TYPES.ociLayerGzip,
          digest: l.digest,
          size: l.gz.length,
        })),
      ],
    }),
  );
  const newBlobs = [
    ...image.layers.map((l) => ({
      digest: l.digest,
      size: l.gz.length,
      mediaType: MEDIA_TYPES.ociLayerGzip,
      bytes: l.gz,
    })),
    {
      digest: configDigest,
      size: configBytes.length,
      mediaType: MEDIA_TYPES.ociConfig,
      bytes: configBytes,
    },
  ];
  // Blobs go to the store before the transaction that records them; until then (and for
  // ever, when the build fails) they are files no row knows, which usage does not count.
  for (const blob of newBlobs) {
    await ctx.store.put(blob.bytes, { expectedDigest: blob.digest });
  }
  return {
    target: ref.text,
    repository: ref.repository,
    namespace: ref.namespace,
    tag: ref.tag!,
    manifest,
    configBytes,
    configDigest,
    newBlobs,
    layers: [
      ...baseLayers.map((l) => ({ digest: l.digest, size: l.size, reused: true })),
      ...image.layers.map((l) => ({ digest: l.digest, size: l.gz.length, reused: false })),
    ],
    base: image.base
      ? { reference: image.base.reference, digest: image.base.digest }
      : { reference: "scratch", digest: null },
  };
}

async function commit(tx: DbOrTx, ctx: RegistryContext, p: Prepared): Promise<BuildImageResult> {
  const ns = await requireNamespace(tx, ctx, p.namespace);
  await checkStorageQuota(tx, ctx);
  // Held from here to commit: garbage collection cannot remove a blob between the check
  // that it is in the store and the rows that make it referenced.
  await holdBlobsAgainstGc(tx);
  for (const blob of p.newBlobs) {
    const stat = await ctx.store.stat(blob.digest);
    if (!stat || stat.size !== blob.size) {
      await ctx.store.put(blob.bytes, { expectedDigest: blob.digest });
    }
    await recordBlob(tx, blob);
  }
  const repositoryId = await ensureRepository(tx, ns.id, p.repository);
  const stored = await writeManifestRows(tx, {
    repositoryId,
    content: p.manifest,
    contentType: MEDIA_TYPES.ociManifest,
    tag: p.tag,
    blobs: "known",
    now: nowOf(ctx),
  });
  return {
    target: p.target,
    repository: p.repository,
    tag: p.tag,
    digest: stored.digest,
    mediaType: stored.mediaType,
    configDigest: p.configDigest,
    size: p.manifest.length + p.configBytes.length + p.layers.reduce((s, l) => s + l.size, 0),
    layers: p.layers,
    base: p.base,
    created: stored.created,
  };
}

function canceled(): RegistryError {
  return new RegistryError("BAD_REQUEST", "the build was canceled: the client went away");
}

/**
 * Dockerfile problems are the caller's: BAD_REQUEST with the message that names the line.
 * A message quotes expanded words (`COPY $TOKEN /x`: "<value> was not found"), and it becomes
 * the failure event's reason: every build-arg value in it is replaced by the arg's name.
 */
function asBuildError(thrown: unknown, raw: unknown): RegistryError {
  const error =
    thrown instanceof DockerfileError
      ? new RegistryError("BAD_REQUEST", thrown.message, undefined, { cause: thrown })
      : toRegistryError(thrown);
  const redacted = redactBuildArgs(error.message, field(raw, "buildArgs"));
  if (redacted === error.message) return error;
  return new RegistryError(error.code, redacted, error.detail, { cause: error.cause ?? thrown });
}

/** Values shorter than this are left in messages: they say nothing (`1`, `yes`). */
const MIN_REDACTED_LENGTH = 4;

function redactBuildArgs(message: string, args: unknown): string {
  if (args === null || typeof args !== "object") return message;
  const values = Object.entries(args as Record<string, unknown>)
    .filter((e): e is [string, string] => typeof e[1] === "string")
    .filter(([, v]) => v.length >= MIN_REDACTED_LENGTH)
    // Longest first: a value containing another is replaced whole.
    .sort((a, b) => b[1].length - a[1].length);
  let out = message;
  for (const [name, value] of values)
    out = out.split(value).join(`[build arg ${name.slice(0, 100)}]`);
  return out;
}

/** What the event may say about the request: names, never build-arg values. */
function safeRequestData(raw: unknown): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  const dockerfile = field(raw, "dockerfile");
  data.dockerfile = typeof dockerfile === "string" ? dockerfile.slice(0, 200) : "Dockerfile";
  const context = field(raw, "context");
  if (typeof context === "string") data.context = context.slice(0, 200);
  const args = field(raw, "buildArgs");
  if (args !== null && typeof args === "object") {
    data.buildArgNames = Object.keys(args)
      .filter((k) => ARG_NAME.test(k))
      .slice(0, MAX_BUILD_ARGS)
      .map((k) => k.slice(0, 100))
      .sort();
  }
  // A path that looks like a credential is dropped rather than lose the event over it.
  return containsSecrets(data) ? {} : data;
}
