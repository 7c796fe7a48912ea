import { RE2JS } from "re2js";
import { DockerfileError } from "./errors";

/*
 * Path patterns as Docker reads them in COPY sources and .dockerignore: `*` and `?` within one
 * path component, `[a-z]` and `[^a-z]` classes, `**` across any number of components, and the
 * escape character `\` taking the next character literally. Paths are relative to the build
 * context, slash-separated, without a leading `./` or `/`.
 */

/**
 * A relative path in the context, normalised: `.` and empty components dropped, `..` applied.
 * Null when it climbs above the context root.
 */
export function cleanContextPath(path: string): string | null {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) return null;
      out.pop();
    } else out.push(part);
  }
  return out.join("/");
}

/** An absolute path inside the image, normalised, without the leading slash ("" is the root). */
export function cleanImagePath(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") out.pop();
    else out.push(part);
  }
  return out.join("/");
}

export function hasGlob(pattern: string): boolean {
  return /[*?[\\]/.test(pattern);
}

/** A compiled pattern. */
export interface PathMatcher {
  /** Does a (clean, relative) path match it? */
  test(path: string): boolean;
}

/** Longest pattern accepted (a path is at most a few kilobytes anyway). */
export const MAX_PATTERN_LENGTH = 4096;

/**
 * A compiled pattern: does a (clean, relative) path match it? Matched by RE2 (re2js), in time
 * linear in the path whatever the pattern: `*a*a*a…b` against a long name cannot backtrack
 * for ever the way a JavaScript RegExp does.
 */
export function compilePattern(pattern: string): PathMatcher {
  if (pattern.length > MAX_PATTERN_LENGTH) {
    throw new PatternError(
      `pattern "${pattern.slice(0, 100)}…" is longer than ${MAX_PATTERN_LENGTH} characters`,
    );
  }
  let re = "^";
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (ch === "*") {
      if (chars[i + 1] === "*") {
        i++;
        while (chars[i + 1] === "*") i++;
        if (chars[i + 1] === "/") i++;
        // `**` at the end matches everything below; `**/` any number of directories.
        re += i + 1 >= chars.length ? ".*" : "(?:.*/)?";
      } else re += "[^/]*";
    } else if (ch === "?") re += "[^/]";
    else if (ch === "\\") {
      const next = chars[++i];
      if (next === undefined)
        throw new PatternError(`pattern "${pattern}" ends with an escape (\\)`);
      re += escapeRegex(next);
    } else if (ch === "[") {
      const end = classEnd(chars, i);
      if (end < 0) throw new PatternError(`pattern "${pattern}" has a [ without its closing ]`);
      let body = "";
      let j = i + 1;
      if (chars[j] === "^" || chars[j] === "!") {
        body += "^";
        j++;
      }
      for (; j < end; j++) {
        const c = chars[j]!;
        if (c === "\\") {
          const lit = chars[++j] ?? "\\";
          body += /[\\\][^-]/.test(lit) ? `\\${lit}` : lit;
        } else if (c === "]" || c === "[" || c === "^") body += `\\${c}`;
        else if (c === "/") throw new PatternError(`pattern "${pattern}" has / inside [...]`);
        else body += c;
      }
      if (body === "" || body === "^") {
        throw new PatternError(`pattern "${pattern}" has an empty character class []`);
      }
      re += `[${body}]`;
      i = end;
    } else re += escapeRegex(ch);
  }
  re += "$";
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(re);
  } catch {
    throw new PatternError(`pattern "${pattern}" is not a valid pattern`);
  }
  return { test: (path) => compiled.matches(path) };
}

export class PatternError extends Error {
  override readonly name = "PatternError";
}

function classEnd(chars: string[], open: number): number {
  let j = open + 1;
  if (chars[j] === "^" || chars[j] === "!") j++;
  if (chars[j] === "]") j++; // a leading ] is literal
  for (; j < chars.length; j++) {
    if (chars[j] === "\\") j++;
    else if (chars[j] === "]") return j;
  }
  return -1;
}

function escapeRegex(ch: string): string {
  return /[.*+?^${}()|[\]\\/]/.test(ch) ? `\\${ch}` : ch;
}

interface IgnoreRule {
  exclusion: boolean;
  regex: PathMatcher;
}

/** Rules a .dockerignore may hold: each is tried against every path of the context. */
export const MAX_IGNORE_PATTERNS = 1000;

/** The rules of a .dockerignore file. */
export interface IgnoreMatcher {
  /** Whether a context path (clean, relative) is left out of the context. */
  ignores(path: string): boolean;
  readonly patterns: readonly string[];
}

/**
 * Read a .dockerignore: one pattern a line, `#` comments, `!` re-includes, the last matching
 * rule wins, and a rule matching a directory applies to everything below it.
 */
export function parseDockerignore(text: string): IgnoreMatcher {
  const rules: IgnoreRule[] = [];
  const patterns: string[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  lines.forEach((raw, index) => {
    let line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    let exclusion = false;
    if (line.startsWith("!")) {
      exclusion = true;
      line = line.slice(1).trim();
    }
    const clean = cleanContextPath(line.replace(/^\/+/, ""));
    if (clean === null || clean === "") {
      // `..` above the root matches nothing in the context; "." or "/" would mean everything.
      if (clean === "") {
        rules.push({ exclusion, regex: { test: () => true } });
        patterns.push(exclusion ? "!." : ".");
      }
      return;
    }
    if (rules.length >= MAX_IGNORE_PATTERNS) {
      throw new DockerfileError(
        `more than ${MAX_IGNORE_PATTERNS} patterns: each is tried against every path of the context`,
        index + 1,
        ".dockerignore",
      );
    }
    try {
      rules.push({ exclusion, regex: compilePattern(clean) });
    } catch (error) {
      if (error instanceof PatternError) {
        throw new DockerfileError(error.message, index + 1, ".dockerignore");
      }
      throw error;
    }
    patterns.push(exclusion ? `!${clean}` : clean);
  });
  return {
    patterns,
    ignores(path: string): boolean {
      const parents = path.split("/");
      let matched = false;
      for (const rule of rules) {
        // An include rule can only change an excluded path back, and the other way round.
        if (rule.exclusion !== matched) continue;
        let match = rule.regex.test(path);
        for (let i = 1; !match && i < parents.length; i++) {
          match = rule.regex.test(parents.slice(0, i).join("/"));
        }
        if (match) matched = !rule.exclusion;
      }
      return matched;
    },
  };
}
