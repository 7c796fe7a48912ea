// Over 400 lines: the Dockerfile evaluator is one state machine (stages, variables, the
// filesystem in progress) whose instructions read and write the same state; split by
// instruction it would pass that state through every file.
import {
  type BuildStep,
  cleanImagePath,
  type DecodedDockerfile,
  DockerfileError,
  expandWord,
  expandWords,
  type FromStep,
  MEDIA_TYPES,
  WordError,
} from "@berth/core";
import type { BlobStore } from "../storage/blob-store";
import type { BuildBudget } from "./budget";
import type { ContextEntry } from "./context";
import { CopyError, copyEntries, parseChmod, parseChown } from "./copy";
import { FsError, ImageFs } from "./filesystem";
import type { ProgressListener } from "./progress";
import { type BuiltLayer, writeLayer } from "./tar-io";

/*
 * Running a decoded Dockerfile: ARG and ENV values, variable expansion, the image config each
 * instruction changes, and a layer for each COPY and ADD. No command runs and nothing is
 * fetched; the only inputs are the Dockerfile, the build args, the context and the base image.
 */

/** What FROM resolved to. */
export interface BaseImage {
  /** Canonical reference and digest, for progress and history. */
  reference: string;
  digest: string;
  /** The base manifest's layers, reused as they are. */
  layers: {
    mediaType: string;
    digest: string;
    size: number;
    annotations?: Record<string, string>;
  }[];
  /** The base image config (parsed JSON). */
  config: Record<string, unknown>;
}

export interface EvaluateInput {
  dockerfile: DecodedDockerfile;
  /** Name of the Dockerfile, for messages. */
  file: string;
  buildArgs: Record<string, string>;
  context: Map<string, ContextEntry>;
  ignored: (path: string) => boolean;
  /** Timestamp of every file and of the config (seconds since the epoch). */
  epoch: number;
  store: BlobStore;
  /** What the build may still unpack (shared with the context it read). */
  budget: BuildBudget;
  resolveBase: (
    reference: string,
    platform: string | undefined,
    line: number,
  ) => Promise<BaseImage>;
  onProgress: ProgressListener;
  checkCanceled: () => void;
}

export interface EvaluatedImage {
  config: Record<string, unknown>;
  base: BaseImage | null;
  layers: BuiltLayer[];
}

/** A build problem at a line of the Dockerfile. */
export function lineError(file: string, line: number, problem: string): DockerfileError {
  return new DockerfileError(problem, line, file);
}

/** Instructions a Dockerfile may have. */
export const MAX_INSTRUCTIONS = 10_000;
/** Characters of ENV and LABEL text the image config may hold, all together. */
export const MAX_ENV_AND_LABEL_CHARS = 1024 * 1024;

const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

export async function evaluate(input: EvaluateInput): Promise<EvaluatedImage> {
  const { dockerfile, file } = input;
  const total = dockerfile.globalArgs.length + 1 + dockerfile.steps.length;
  if (total > MAX_INSTRUCTIONS) {
    throw lineError(file, 1, `more than ${MAX_INSTRUCTIONS} instructions`);
  }
  let stepNo = 0;
  const announce = (line: number, instruction: string) => {
    input.checkCanceled();
    input.onProgress({ kind: "step", step: ++stepNo, steps: total, line, instruction });
  };
  const consumed = new Set<string>();
  const fail = (line: number, problem: string): never => {
    throw lineError(file, line, problem);
  };
  const expanding = <T>(line: number, what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (error) {
      if (error instanceof WordError) fail(line, `${what}: ${error.message}`);
      throw error;
    }
  };

  // Global ARGs: visible to FROM; inside the build once declared again without a value.
  const globals = new Map<string, string | undefined>();
  for (const step of dockerfile.globalArgs) {
    announce(step.line, step.original);
    for (const arg of step.args) {
      consumed.add(arg.name);
      const lookup = (name: string) => globals.get(name);
      const value = Object.hasOwn(input.buildArgs, arg.name)
        ? input.buildArgs[arg.name]
        : arg.value === undefined
          ? undefined
          : expanding(step.line, `ARG ${arg.name}`, () =>
              expandWord(arg.value!, lookup, dockerfile.escape),
            );
      globals.set(arg.name, value);
    }
  }

  const from = dockerfile.from;
  announce(from.line, from.original);
  const { base, config, platform } = await startFrom(input, from, globals, expanding);
  const cfg = config;
  const history: Record<string, unknown>[] = [];
  const diffIds: string[] = [];
  const layers: BuiltLayer[] = [];
  const created = new Date(input.epoch * 1000).toISOString().replace(/\.000Z$/, "Z");
  let fs: ImageFs | null = null;
  const imageFs = async (line: number): Promise<ImageFs> => {
    if (fs) return fs;
    try {
      fs = base ? await ImageFs.fromLayers(input.store, base.layers, input.budget) : new ImageFs();
    } catch (error) {
      if (error instanceof FsError) fail(line, error.message);
      throw error;
    }
    return fs!;
  };

  const args = new Map<string, string | undefined>();
  const env = (): string[] => (cfg.Env as string[] | undefined) ?? [];
  const envValue = (name: string): string | undefined => {
    const prefix = `${name}=`;
    const found = env().findLast((e) => e.startsWith(prefix));
    return found === undefined ? undefined : found.slice(prefix.length);
  };
  const lookupNow = () => {
    const snapshot = new Map<string, string | undefined>(args);
    for (const e of env()) {
      const eq = e.indexOf("=");
      if (eq > 0) snapshot.set(e.slice(0, eq), e.slice(eq + 1));
    }
    return (name: string) => snapshot.get(name);
  };
  const word = (line: number, what: string, text: string) =>
    expanding(line, what, () => expandWord(text, lookupNow(), dockerfile.escape));

  const checkConfigSize = (line: number) => {
    const labels = (cfg.Labels as Record<string, string> | null | undefined) ?? {};
    let chars = 0;
    for (const e of env()) chars += e.length;
    for (const [k, v] of Object.entries(labels)) chars += k.length + v.length;
    if (chars > MAX_ENV_AND_LABEL_CHARS) {
      fail(
        line,
        `ENV and LABEL values take more than ${MAX_ENV_AND_LABEL_CHARS} characters in all`,
      );
    }
  };

  for (const step of dockerfile.steps) {
    announce(step.line, step.original);
    const emptyLayer = step.kind !== "COPY" && step.kind !== "ADD";
    switch (step.kind) {
      case "ARG":
        for (const arg of step.args) {
          consumed.add(arg.name);
          let value: string | undefined;
          if (Object.hasOwn(input.buildArgs, arg.name)) value = input.buildArgs[arg.name];
          else if (arg.value !== undefined) value = word(step.line, `ARG ${arg.name}`, arg.value);
          else value = globals.get(arg.name);
          args.set(arg.name, value);
        }
        break;
      case "ENV": {
        // Every value of one ENV sees the environment from before it, as in Docker.
        const lookup = lookupNow();
        const pairs = step.pairs.map((p) =>
          expanding(step.line, "ENV", () => ({
            name: expandWord(p.name, lookup, dockerfile.escape),
            value: expandWord(p.value, lookup, dockerfile.escape),
          })),
        );
        for (const { name, value } of pairs) {
          if (name === "" || name.includes("=")) fail(step.line, `ENV name "${name}" is not valid`);
          const list = env().filter((e) => !e.startsWith(`${name}=`));
          list.push(`${name}=${value}`);
          cfg.Env = list;
        }
        checkConfigSize(step.line);
        break;
      }
      case "LABEL": {
        const lookup = lookupNow();
        const labels = { ...((cfg.Labels as Record<string, string> | null | undefined) ?? {}) };
        for (const p of step.pairs) {
          const name = expanding(step.line, "LABEL", () =>
            expandWord(p.name, lookup, dockerfile.escape),
          );
          if (name === "") fail(step.line, "LABEL has an empty key");
          labels[name] = expanding(step.line, "LABEL", () =>
            expandWord(p.value, lookup, dockerfile.escape),
          );
        }
        cfg.Labels = labels;
        checkConfigSize(step.line);
        break;
      }
      case "WORKDIR": {
        const path = word(step.line, "WORKDIR", step.path);
        if (path === "") fail(step.line, "WORKDIR is empty after variable expansion");
        const current = (cfg.WorkingDir as string | undefined) || "/";
        cfg.WorkingDir = `/${cleanImagePath(path.startsWith("/") ? path : `${current}/${path}`)}`;
        break;
      }
      case "EXPOSE": {
        const ports = expanding(step.line, "EXPOSE", () =>
          expandWords(step.ports, lookupNow(), dockerfile.escape),
        );
        const exposed = { ...((cfg.ExposedPorts as Record<string, object> | undefined) ?? {}) };
        for (const port of ports) {
          for (const key of exposedPorts(port, (problem) => fail(step.line, problem))) {
            exposed[key] = {};
          }
        }
        cfg.ExposedPorts = exposed;
        break;
      }
      case "USER": {
        const user = word(step.line, "USER", step.user);
        if (user === "") fail(step.line, "USER is empty after variable expansion");
        cfg.User = user;
        break;
      }
      case "CMD":
      case "ENTRYPOINT": {
        const command = step.exec ?? ["/bin/sh", "-c", step.shell!];
        if (step.kind === "CMD") cfg.Cmd = command;
        else {
          cfg.Entrypoint = command;
          // A new ENTRYPOINT drops the base image's CMD, unless this Dockerfile set one.
          if (!dockerfile.steps.some((s) => s.kind === "CMD" && s.line < step.line)) {
            delete cfg.Cmd;
          }
        }
        break;
      }
      case "COPY":
      case "ADD": {
        const layer = await copyStep(step, stepNo);
        layers.push(layer);
        diffIds.push(layer.diffId);
        break;
      }
    }
    history.push({
      created,
      created_by: step.original,
      comment: "berth build",
      ...(emptyLayer ? { empty_layer: true } : {}),
    });
  }

  async function copyStep(step: Extract<BuildStep, { kind: "COPY" | "ADD" }>, n: number) {
    const fsNow = await imageFs(step.line);
    const sources = step.sources.map((s) => word(step.line, step.kind, s));
    const dest = word(step.line, step.kind, step.dest);
    if (dest === "") fail(step.line, `${step.kind} destination is empty after variable expansion`);
    try {
      const owner =
        step.chown !== undefined
          ? parseChown(word(step.line, "--chown", step.chown), fsNow)
          : undefined;
      const chmod =
        step.chmod !== undefined ? parseChmod(word(step.line, "--chmod", step.chmod)) : undefined;
      const entries = await copyEntries({
        keyword: step.kind,
        sources,
        dest,
        workdir: (cfg.WorkingDir as string | undefined) || "/",
        ...(owner ? { owner } : {}),
        ...(chmod !== undefined ? { chmod } : {}),
        context: input.context,
        ignored: input.ignored,
        fs: fsNow,
        budget: input.budget,
      });
      const layer = await writeLayer(entries, input.epoch);
      fsNow.apply(entries);
      const files = entries.filter((e) => e.type !== "dir").length;
      input.onProgress({
        kind: "layer",
        step: n,
        digest: layer.digest,
        size: layer.gz.length,
        entries: layer.entries,
      });
      input.onProgress({
        kind: "info",
        step: n,
        message: `${files} file${files === 1 ? "" : "s"} copied, layer ${layer.digest.slice(0, 19)} (${layer.gz.length} bytes)`,
      });
      return layer;
    } catch (error) {
      if (error instanceof CopyError || error instanceof FsError) fail(step.line, error.message);
      throw error;
    }
  }

  const unused = Object.keys(input.buildArgs)
    .filter((name) => !consumed.has(name))
    .sort();
  if (unused.length > 0) {
    input.onProgress({
      kind: "info",
      message: `warning: build arg${unused.length > 1 ? "s" : ""} ${unused.join(", ")} ${unused.length > 1 ? "were" : "was"} not declared by an ARG and had no effect`,
    });
  }

  if (envValue("PATH") === undefined) cfg.Env = [DEFAULT_PATH, ...env()];
  const baseRootfs = (base?.config.rootfs as { diff_ids?: string[] } | undefined)?.diff_ids ?? [];
  const baseHistory = Array.isArray(base?.config.history)
    ? (base!.config.history as unknown[])
    : [];
  const imageConfig: Record<string, unknown> = {
    created,
    architecture: platform.architecture,
    os: platform.os,
    ...(platform.variant ? { variant: platform.variant } : {}),
    config: cfg,
    rootfs: { type: "layers", diff_ids: [...baseRootfs, ...diffIds] },
    history: [...baseHistory, ...history],
  };
  return { config: imageConfig, base, layers };
}

interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export function parsePlatform(text: string): Platform | null {
  const m = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?$/.exec(text);
  if (!m) return null;
  return { os: m[1]!, architecture: m[2]!, ...(m[3] ? { variant: m[3] } : {}) };
}

async function startFrom(
  input: EvaluateInput,
  from: FromStep,
  globals: Map<string, string | undefined>,
  expanding: <T>(line: number, what: string, fn: () => T) => T,
): Promise<{ base: BaseImage | null; config: Record<string, unknown>; platform: Platform }> {
  const lookup = (name: string) => globals.get(name);
  const esc = input.dockerfile.escape;
  const image = expanding(from.line, "FROM", () => expandWord(from.image, lookup, esc));
  const platformText =
    from.platform === undefined
      ? undefined
      : expanding(from.line, "FROM --platform", () => expandWord(from.platform!, lookup, esc));
  let requested: Platform | undefined;
  if (platformText !== undefined) {
    const parsed = parsePlatform(platformText);
    if (!parsed) {
      throw lineError(
        input.file,
        from.line,
        `--platform=${platformText} is not a platform such as linux/amd64 or linux/arm64/v8`,
      );
    }
    requested = parsed;
  }
  if (image === "")
    throw lineError(input.file, from.line, "FROM names no image after variable expansion");
  if (image === "scratch") {
    input.onProgress({
      kind: "info",
      step: input.dockerfile.globalArgs.length + 1,
      message: "starting from scratch",
    });
    return {
      base: null,
      config: {},
      platform: requested ?? { os: "linux", architecture: "amd64" },
    };
  }
  const base = await input.resolveBase(image, platformText, from.line);
  input.onProgress({
    kind: "info",
    step: input.dockerfile.globalArgs.length + 1,
    message: `base image ${base.reference} (${base.digest}), ${base.layers.length} layer${base.layers.length === 1 ? "" : "s"} reused`,
  });
  const baseConfig = (base.config.config as Record<string, unknown> | undefined) ?? {};
  return {
    base,
    config: { ...baseConfig },
    platform: {
      os: typeof base.config.os === "string" ? base.config.os : "linux",
      architecture:
        typeof base.config.architecture === "string" ? base.config.architecture : "amd64",
      ...(typeof base.config.variant === "string" ? { variant: base.config.variant } : {}),
    },
  };
}

const MAX_PORT_RANGE = 1000;

/** `EXPOSE` values as config keys: `80` → `80/tcp`, ranges expanded. */
function exposedPorts(text: string, fail: (problem: string) => never): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/([A-Za-z]+))?$/.exec(text);
  if (!m) fail(`EXPOSE ${text}: expected <port>[/tcp|/udp|/sctp] or <from>-<to>[/protocol]`);
  const protocol = (m![3] ?? "tcp").toLowerCase();
  if (!["tcp", "udp", "sctp"].includes(protocol)) {
    fail(`EXPOSE ${text}: the protocol is tcp, udp or sctp`);
  }
  const start = Number(m![1]);
  const end = m![2] === undefined ? start : Number(m![2]);
  if (start < 1 || end > 65535 || end < start) fail(`EXPOSE ${text}: ports are 1 to 65535`);
  if (end - start >= MAX_PORT_RANGE)
    fail(`EXPOSE ${text}: at most ${MAX_PORT_RANGE} ports in a range`);
  const keys: string[] = [];
  for (let port = start; port <= end; port++) keys.push(`${port}/${protocol}`);
  return keys;
}

/** The layer media type of a reused base layer in an OCI manifest. */
export function ociLayerType(mediaType: string): string {
  if (mediaType === MEDIA_TYPES.dockerLayerGzip) return MEDIA_TYPES.ociLayerGzip;
  if (mediaType === "application/vnd.docker.image.rootfs.diff.tar") return MEDIA_TYPES.ociLayer;
  return mediaType;
}
