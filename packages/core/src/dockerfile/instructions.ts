import { DockerfileError } from "./errors";
import {
  clip,
  type EscapeChar,
  type InstructionFlag,
  type ParsedDockerfile,
  parseDockerfile,
  type RawInstruction,
} from "./parse";
import { splitWords } from "./words";

/*
 * What a Dockerfile means to a Berth build: the supported subset, decoded and checked before
 * anything is built, so that a refused instruction or a malformed one fails the build at once,
 * naming its line. Values are kept as written: variables are expanded when the build reaches
 * the instruction, with the ARG and ENV values in force there.
 */

export const SUPPORTED_INSTRUCTIONS = [
  "FROM",
  "ARG",
  "ENV",
  "WORKDIR",
  "COPY",
  "ADD",
  "LABEL",
  "EXPOSE",
  "USER",
  "CMD",
  "ENTRYPOINT",
] as const;
export type SupportedInstruction = (typeof SUPPORTED_INSTRUCTIONS)[number];

const SUPPORTED_LIST = SUPPORTED_INSTRUCTIONS.join(", ");

/** Docker instructions a Berth build refuses, and why. */
const REFUSED: Record<string, string> = {
  RUN: "RUN is not supported: Berth builds images without a container runtime, so no command can run during a build. Prepare the files beforehand and COPY or ADD them",
  SHELL: "SHELL is not supported: Berth builds run no commands",
  VOLUME: "VOLUME is not supported by Berth builds",
  HEALTHCHECK: "HEALTHCHECK is not supported by Berth builds",
  ONBUILD: "ONBUILD is not supported by Berth builds",
  STOPSIGNAL: "STOPSIGNAL is not supported by Berth builds",
  MAINTAINER: 'MAINTAINER is not supported (it is deprecated): use LABEL maintainer="..."',
};

interface StepBase {
  line: number;
  /** The instruction as written (image history records it). */
  original: string;
}

export interface NameValue {
  /** As written: quotes and variables are resolved at build time. */
  name: string;
  value: string;
}

export interface FromStep extends StepBase {
  kind: "FROM";
  /** Image reference as written (may use global ARGs). */
  image: string;
  platform?: string;
  stageName?: string;
}
export interface ArgStep extends StepBase {
  kind: "ARG";
  args: { name: string; value?: string }[];
}
export interface EnvStep extends StepBase {
  kind: "ENV";
  pairs: NameValue[];
}
export interface LabelStep extends StepBase {
  kind: "LABEL";
  pairs: NameValue[];
}
export interface WorkdirStep extends StepBase {
  kind: "WORKDIR";
  path: string;
}
export interface CopyStep extends StepBase {
  kind: "COPY" | "ADD";
  sources: string[];
  dest: string;
  chown?: string;
  chmod?: string;
}
export interface ExposeStep extends StepBase {
  kind: "EXPOSE";
  ports: string;
}
export interface UserStep extends StepBase {
  kind: "USER";
  user: string;
}
export interface CommandStep extends StepBase {
  kind: "CMD" | "ENTRYPOINT";
  /** Exec form; null for the shell form. */
  exec: string[] | null;
  /** Shell form: run as `/bin/sh -c <shell>`. */
  shell?: string;
}

export type BuildStep =
  | ArgStep
  | EnvStep
  | LabelStep
  | WorkdirStep
  | CopyStep
  | ExposeStep
  | UserStep
  | CommandStep;

export interface DecodedDockerfile {
  escape: EscapeChar;
  /** ARG instructions before FROM: usable in FROM, and in the build once declared again. */
  globalArgs: ArgStep[];
  from: FromStep;
  /** Everything after FROM, in order. */
  steps: BuildStep[];
}

/** Parse and decode a Dockerfile, or throw a DockerfileError naming the first bad line. */
export function readDockerfile(text: string, file = "Dockerfile"): DecodedDockerfile {
  try {
    return decodeDockerfile(parseDockerfile(text, file));
  } catch (error) {
    if (error instanceof DockerfileError && error.file !== file) throw error.at(file);
    throw error;
  }
}

export function decodeDockerfile(parsed: ParsedDockerfile): DecodedDockerfile {
  const globalArgs: ArgStep[] = [];
  const steps: BuildStep[] = [];
  let from: FromStep | undefined;
  const { escape: esc } = parsed;
  for (const raw of parsed.instructions) {
    const fail = (problem: string): never => {
      throw new DockerfileError(problem, raw.line);
    };
    if (raw.problem) fail(raw.problem);
    const refused = REFUSED[raw.keyword];
    if (refused) fail(refused);
    if (!(SUPPORTED_INSTRUCTIONS as readonly string[]).includes(raw.keyword)) {
      fail(
        `unknown instruction "${clip(raw.original.split(/\s/, 1)[0]!)}" (Berth builds support ${SUPPORTED_LIST})`,
      );
    }
    const keyword = raw.keyword as SupportedInstruction;
    if (keyword === "FROM") {
      if (from) {
        fail(
          `a second FROM: multi-stage builds are not supported, a Berth build has one FROM (the first is on line ${from.line})`,
        );
      }
      from = decodeFrom(raw, esc, fail);
      continue;
    }
    if (!from && keyword !== "ARG") {
      fail(
        `${keyword} before FROM: a Dockerfile starts with FROM, and only ARG may come before it`,
      );
    }
    const step = decodeStep(keyword as Exclude<SupportedInstruction, "FROM">, raw, esc, fail);
    if (from) steps.push(step);
    else globalArgs.push(step as ArgStep);
  }
  if (!from) {
    throw new DockerfileError(
      parsed.instructions.length === 0
        ? "is empty: a Dockerfile needs at least a FROM instruction"
        : "has no FROM instruction: name a base image, or FROM scratch",
    );
  }
  return { escape: esc, globalArgs, from, steps };
}

type Fail = (problem: string) => never;

function checkFlags(raw: RawInstruction, allowed: Record<string, string | null>, fail: Fail): void {
  const seen = new Set<string>();
  for (const flag of raw.flags) {
    if (!Object.hasOwn(allowed, flag.name)) {
      fail(
        `unknown flag --${clip(flag.name)} for ${raw.keyword} (supported: ${SUPPORTED_FLAGS[raw.keyword]})`,
      );
    }
    const refusal = allowed[flag.name];
    if (refusal) fail(refusal);
    if (seen.has(flag.name)) fail(`--${flag.name} is given twice`);
    seen.add(flag.name);
  }
}

const SUPPORTED_FLAGS: Record<string, string> = {
  FROM: "--platform",
  COPY: "--chown, --chmod, --link",
  ADD: "--chown, --chmod, --link",
};

function flagValue(raw: RawInstruction, name: string, fail: Fail): string | undefined {
  const flag: InstructionFlag | undefined = raw.flags.find((f) => f.name === name);
  if (!flag) return undefined;
  if (flag.value === null || flag.value === "") fail(`--${name} needs a value: --${name}=<value>`);
  return flag.value!;
}

function decodeFrom(raw: RawInstruction, esc: EscapeChar, fail: Fail): FromStep {
  checkFlags(raw, { platform: null }, fail);
  const words = splitWords(raw.args, esc);
  if (words.length === 0)
    fail("FROM needs an image: FROM <namespace>/<repository>[:tag] or FROM scratch");
  let stageName: string | undefined;
  if (words.length === 3 && words[1]!.toUpperCase() === "AS") stageName = words[2]!;
  else if (words.length !== 1) fail("FROM takes one image, optionally followed by AS <name>");
  if (stageName !== undefined && !/^[a-zA-Z][a-zA-Z0-9_.-]*$/.test(stageName)) {
    fail(`"${clip(stageName)}" is not a valid stage name`);
  }
  const platform = flagValue(raw, "platform", fail);
  return {
    kind: "FROM",
    line: raw.line,
    original: raw.original,
    image: words[0]!,
    ...(platform !== undefined ? { platform } : {}),
    ...(stageName !== undefined ? { stageName } : {}),
  };
}

const ARG_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function decodeStep(
  keyword: Exclude<SupportedInstruction, "FROM">,
  raw: RawInstruction,
  esc: EscapeChar,
  fail: Fail,
): BuildStep {
  const base = { line: raw.line, original: raw.original };
  switch (keyword) {
    case "ARG": {
      const words = splitWords(raw.args, esc);
      if (words.length === 0) fail("ARG needs a name: ARG <name>[=<default>]");
      const args = words.map((word) => {
        const eq = word.indexOf("=");
        const name = eq < 0 ? word : word.slice(0, eq);
        if (!ARG_NAME.test(name)) {
          fail(
            `"${clip(name)}" is not a valid ARG name (letters, digits and _, not starting with a digit)`,
          );
        }
        return eq < 0 ? { name } : { name, value: word.slice(eq + 1) };
      });
      return { kind: "ARG", ...base, args };
    }
    case "ENV":
    case "LABEL": {
      const pairs = nameValues(keyword, raw.args, esc, fail);
      return { kind: keyword, ...base, pairs };
    }
    case "WORKDIR":
      if (raw.args === "") fail("WORKDIR needs a path");
      return { kind: "WORKDIR", ...base, path: raw.args };
    case "COPY":
    case "ADD": {
      checkFlags(
        raw,
        {
          chown: null,
          chmod: null,
          link: null,
          from: `${keyword} --from copies from another stage or image: multi-stage builds are not supported`,
          parents: `${keyword} --parents is not supported`,
          exclude: `${keyword} --exclude is not supported: list the files to leave out in .dockerignore`,
          ...(keyword === "ADD"
            ? {
                checksum: "ADD --checksum is for downloads, which Berth builds do not make",
                "keep-git-dir":
                  "ADD --keep-git-dir is for git sources, which Berth builds do not fetch",
              }
            : {}),
        },
        fail,
      );
      const link = raw.flags.find((f) => f.name === "link");
      if (link && link.value !== null && link.value !== "true" && link.value !== "false") {
        fail(`--link takes no value, or true or false`);
      }
      const words = raw.json ?? raw.args.split(/\s+/).filter((w) => w !== "");
      if (words.length < 2) {
        fail(`${keyword} needs at least one source and a destination: ${keyword} <src>... <dest>`);
      }
      const chown = flagValue(raw, "chown", fail);
      const chmod = flagValue(raw, "chmod", fail);
      return {
        kind: keyword,
        ...base,
        sources: words.slice(0, -1),
        dest: words[words.length - 1]!,
        ...(chown !== undefined ? { chown } : {}),
        ...(chmod !== undefined ? { chmod } : {}),
      };
    }
    case "EXPOSE":
      if (raw.args === "") fail("EXPOSE needs at least one port: EXPOSE <port>[/tcp|/udp]");
      return { kind: "EXPOSE", ...base, ports: raw.args };
    case "USER": {
      const words = splitWords(raw.args, esc);
      if (words.length !== 1) fail("USER takes exactly one argument: USER <user>[:<group>]");
      return { kind: "USER", ...base, user: words[0]! };
    }
    case "CMD":
    case "ENTRYPOINT":
      if (raw.json) return { kind: keyword, ...base, exec: raw.json };
      if (raw.args === "") {
        fail(
          `${keyword} needs a command: ${keyword} ["executable", "arg"] or ${keyword} command arg`,
        );
      }
      return { kind: keyword, ...base, exec: null, shell: raw.args };
  }
}

/**
 * `KEY=value ...` pairs, or the legacy `KEY value` form (one pair, the value is the rest of
 * the line). Docker's parseNameVal.
 */
function nameValues(keyword: string, args: string, esc: EscapeChar, fail: Fail): NameValue[] {
  const words = splitWords(args, esc);
  if (words.length === 0) fail(`${keyword} needs <key>=<value>`);
  if (!words[0]!.includes("=")) {
    const m = /^(\S+)\s+([\s\S]+)$/.exec(args);
    if (!m) fail(`${keyword} needs a value: ${keyword} <key>=<value>`);
    return [{ name: m![1]!, value: m![2]!.trim() }];
  }
  return words.map((word) => {
    const eq = word.indexOf("=");
    if (eq < 0) fail(`"${clip(word)}" has no "=": ${keyword} takes <key>=<value> pairs`);
    if (eq === 0) fail(`"${clip(word)}" has an empty key: ${keyword} takes <key>=<value> pairs`);
    return { name: word.slice(0, eq), value: word.slice(eq + 1) };
  });
}
