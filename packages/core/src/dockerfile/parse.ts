import { DockerfileError } from "./errors";

/*
 * The syntax of a Dockerfile, as Docker reads it: parser directives at the top (`# escape=`),
 * comments, line continuations with the escape character, one instruction per logical line,
 * leading `--flags` for the instructions that take them, and the JSON (exec) form. Meaning
 * (which instructions exist, what their arguments are) is `instructions.ts`'s business.
 */

/** Longest Dockerfile accepted; real ones are a few kilobytes. */
export const MAX_DOCKERFILE_BYTES = 1024 * 1024;

export type EscapeChar = "\\" | "`";

export interface InstructionFlag {
  name: string;
  /** Null for a flag without `=` (`--link`). */
  value: string | null;
}

export interface RawInstruction {
  /** 1-based line where the instruction starts. */
  line: number;
  /** Line of its last continuation. */
  endLine: number;
  /** Upper-cased instruction name. */
  keyword: string;
  /** The instruction as written, continuations joined, trimmed (image history uses it). */
  original: string;
  /** Leading `--name=value` flags (FROM, COPY and ADD only). */
  flags: InstructionFlag[];
  /** Everything after the keyword and the flags, trimmed. */
  args: string;
  /** The arguments when they are a JSON array of strings (exec form), else null. */
  json: string[] | null;
  /** A syntax problem found while reading it, reported when the instruction is reached. */
  problem?: string;
}

export interface ParsedDockerfile {
  escape: EscapeChar;
  instructions: RawInstruction[];
}

/** Instructions whose leading `--flags` are read as flags. */
const FLAG_KEYWORDS = new Set(["FROM", "COPY", "ADD"]);
const DIRECTIVE = /^#\s*([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(.*?)\s*$/;
const FLAG_NAME = /^[A-Za-z][A-Za-z0-9-]*$/;
const HEREDOC = /(^|\s)<<-?\s*["']?[A-Za-z_]/;

/**
 * Read a Dockerfile into raw instructions. Throws a DockerfileError only for problems of the
 * file as a whole (size, directives); a malformed instruction carries its `problem` so that
 * problems are reported in file order by `decodeDockerfile`.
 */
export function parseDockerfile(text: string, file = "Dockerfile"): ParsedDockerfile {
  if (typeof text !== "string") throw new DockerfileError("is not text", undefined, file);
  if (
    text.length > MAX_DOCKERFILE_BYTES ||
    new TextEncoder().encode(text).length > MAX_DOCKERFILE_BYTES
  ) {
    throw new DockerfileError(
      `is larger than ${MAX_DOCKERFILE_BYTES} bytes; a Dockerfile is expected to be small`,
      undefined,
      file,
    );
  }
  if (text.includes("\u0000")) {
    throw new DockerfileError("contains NUL bytes: it is not a text file", undefined, file);
  }
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  let esc: EscapeChar = "\\";
  let index = 0;

  // Parser directives: `# name=value` lines at the very top, before any blank line, comment
  // or instruction. Only `escape` changes how the file is read; others (syntax, check) are
  // BuildKit front-end choices without meaning here.
  const seen = new Set<string>();
  for (; index < lines.length; index++) {
    const m = DIRECTIVE.exec(lines[index]!.trim());
    if (!m) break;
    const name = m[1]!.toLowerCase();
    if (seen.has(name)) {
      throw new DockerfileError(`the "${name}" parser directive is given twice`, index + 1, file);
    }
    seen.add(name);
    if (name === "escape") {
      const value = m[2]!;
      if (value !== "\\" && value !== "`") {
        throw new DockerfileError(
          `invalid escape directive "${value}": the escape character is \\ or \``,
          index + 1,
          file,
        );
      }
      esc = value;
    }
  }

  const instructions: RawInstruction[] = [];
  while (index < lines.length) {
    const first = lines[index]!;
    const trimmed = first.trim();
    if (trimmed === "" || trimmed.startsWith("#")) {
      index++;
      continue;
    }
    const start = index;
    let content = "";
    let current = first;
    for (;;) {
      const continued = stripContinuation(current, esc);
      index++;
      if (continued === null) {
        content += current;
        break;
      }
      content += continued;
      // Comment and blank lines inside a continued instruction are skipped, as Docker does.
      while (index < lines.length) {
        const next = lines[index]!.trim();
        if (next === "" || next.startsWith("#")) index++;
        else break;
      }
      if (index >= lines.length) break;
      current = lines[index]!;
    }
    // A line holding only the escape character continues into nothing.
    if (content.trim() !== "") instructions.push(readInstruction(content.trim(), start + 1, index));
  }
  return { escape: esc, instructions };
}

/** The line without its trailing escape character when it continues, else null. */
function stripContinuation(line: string, esc: EscapeChar): string | null {
  const end = line.replace(/[ \t]+$/, "");
  return end.endsWith(esc) ? end.slice(0, -1) : null;
}

function readInstruction(content: string, line: number, endLine: number): RawInstruction {
  const m = /^(\S+)(?:\s+([\s\S]*))?$/.exec(content)!;
  const written = m[1]!;
  const keyword = written.toUpperCase();
  let rest = (m[2] ?? "").trim();
  const instruction: RawInstruction = {
    line,
    endLine,
    keyword,
    original: content,
    flags: [],
    args: rest,
    json: null,
  };
  if (!/^[A-Za-z]+$/.test(written)) {
    instruction.problem = `"${clip(written)}" is not an instruction`;
    return instruction;
  }
  if (FLAG_KEYWORDS.has(keyword)) {
    for (;;) {
      const flag = /^--(\S*)(?:\s+|$)/.exec(rest);
      if (!flag) break;
      rest = rest.slice(flag[0].length);
      const token = flag[1]!;
      if (token === "") break; // a bare `--` ends the flags
      const eq = token.indexOf("=");
      const name = eq < 0 ? token : token.slice(0, eq);
      if (!FLAG_NAME.test(name)) {
        instruction.problem ??= `"--${clip(token)}" is not a valid flag`;
        continue;
      }
      instruction.flags.push({
        name: name.toLowerCase(),
        value: eq < 0 ? null : token.slice(eq + 1),
      });
    }
    instruction.args = rest.trim();
  }
  instruction.json = jsonForm(instruction.args);
  if ((keyword === "COPY" || keyword === "ADD") && HEREDOC.test(instruction.args)) {
    instruction.problem ??= `${keyword} with a here-document (<<EOF) is not supported: put the file in the build context and copy it`;
  }
  return instruction;
}

/** The exec form: a JSON array of strings. Anything else is the shell form, as in Docker. */
function jsonForm(args: string): string[] | null {
  if (!args.startsWith("[")) return null;
  let value: unknown;
  try {
    value = JSON.parse(args);
  } catch {
    return null;
  }
  if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) return null;
  return value as string[];
}

/** Quote user text in messages without letting a huge token flood them. */
export function clip(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
