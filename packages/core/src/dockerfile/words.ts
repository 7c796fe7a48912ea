import type { EscapeChar } from "./parse";

/*
 * Words and variables the way Docker's shell lexer treats them in ENV, LABEL, ARG, COPY,
 * WORKDIR, USER, EXPOSE and FROM: quotes group and are removed, the escape character takes the
 * next character literally, and `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
 * `${VAR:+alt}`, `${VAR+alt}`, `${VAR:?message}` and `${VAR?message}` are replaced. Nothing is
 * run: there is no command substitution, and `$(...)` stays as written.
 */

/** A problem in one word; the caller adds the line. */
export class WordError extends Error {
  override readonly name = "WordError";
}

/** Value of a variable, or undefined when it is not set. */
export type Lookup = (name: string) => string | undefined;

/**
 * Split on whitespace outside quotes, keeping quotes and escapes in the words (they are
 * removed when the word is expanded). Docker's `parseWords`.
 */
export function splitWords(text: string, esc: EscapeChar = "\\"): string[] {
  const words: string[] = [];
  const chars = Array.from(text);
  let word = "";
  let inWord = false;
  let quote: string | null = null;
  let blankOk = false;
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i]!;
    if (quote === null) {
      if (/\s/.test(ch)) {
        if (inWord && (blankOk || word !== "")) words.push(word);
        word = "";
        inWord = false;
        blankOk = false;
        continue;
      }
      inWord = true;
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
      } else if (ch === esc) {
        if (i + 1 === chars.length) continue;
        word += ch;
        word += chars[++i]!;
        continue;
      }
      word += ch;
      continue;
    }
    if (ch === quote) quote = null;
    else if (ch === esc && quote !== "'") {
      if (i + 1 === chars.length) continue;
      word += ch;
      word += chars[++i]!;
      continue;
    }
    word += ch;
  }
  if (inWord && (blankOk || word !== "")) words.push(word);
  return words;
}

/** One word with quotes removed and variables replaced (Docker's `ProcessWord`). */
export function expandWord(word: string, lookup: Lookup, esc: EscapeChar = "\\"): string {
  return new Expander(word, lookup, esc, false).run().join("");
}

/**
 * Several words: expanded, then split at whitespace that is not quoted, including
 * whitespace that a variable's value brought in (Docker's `ProcessWords`).
 */
export function expandWords(text: string, lookup: Lookup, esc: EscapeChar = "\\"): string[] {
  return new Expander(text, lookup, esc, true).run();
}

/**
 * Longest text one word may expand to. `ENV A=$A$A` doubles A at every line: without a cap a
 * few dozen lines would take the server's memory.
 */
export const MAX_EXPANDED_LENGTH = 64 * 1024;

const NAME_CHAR = /[A-Za-z0-9_]/;
const UNCLOSED = `missing } to close a \${...} variable`;

class Expander {
  private readonly chars: string[];
  private pos = 0;
  private readonly words: string[] = [];
  private current = "";
  /** The current word exists even if empty (it had quotes: `""`). */
  private started = false;
  /** Characters produced so far, in all words and defaults. */
  private produced = 0;

  constructor(
    text: string,
    private readonly lookup: Lookup,
    private readonly esc: EscapeChar,
    private readonly split: boolean,
  ) {
    this.chars = Array.from(text);
  }

  run(): string[] {
    this.top();
    this.endWord();
    if (!this.split) return [this.words.join("")];
    return this.words;
  }

  private peek(): string | undefined {
    return this.chars[this.pos];
  }

  private grow(n: number): void {
    this.produced += n;
    if (this.produced > MAX_EXPANDED_LENGTH) {
      throw new WordError(`expands to more than ${MAX_EXPANDED_LENGTH} characters`);
    }
  }

  private emit(text: string, splittable: boolean): void {
    this.grow(text.length);
    if (!this.split || !splittable) {
      this.current += text;
      this.started = true;
      return;
    }
    for (const ch of text) {
      if (/\s/.test(ch)) this.endWord();
      else {
        this.current += ch;
        this.started = true;
      }
    }
  }

  private endWord(): void {
    if (this.started || this.current !== "") this.words.push(this.current);
    this.current = "";
    this.started = false;
  }

  private top(): void {
    while (this.pos < this.chars.length) {
      const ch = this.peek()!;
      if (ch === "'") this.singleQuote();
      else if (ch === '"') this.doubleQuote();
      else if (ch === "$") this.emit(this.dollar(), true);
      else {
        this.pos++;
        if (ch === this.esc) {
          const next = this.chars[this.pos++];
          if (next === undefined) break;
          this.emit(next, false);
        } else this.emit(ch, true);
      }
    }
  }

  private singleQuote(): void {
    this.pos++;
    this.started = true;
    for (;;) {
      const ch = this.chars[this.pos++];
      if (ch === undefined) {
        throw new WordError(
          "unexpected end of the line while looking for the closing single quote (')",
        );
      }
      if (ch === "'") return;
      this.emit(ch, false);
    }
  }

  private doubleQuote(): void {
    this.pos++;
    this.started = true;
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) {
        throw new WordError(
          'unexpected end of the line while looking for the closing double quote (")',
        );
      }
      if (ch === '"') {
        this.pos++;
        return;
      }
      if (ch === "$") {
        this.emit(this.dollar(), false);
        continue;
      }
      this.pos++;
      if (ch === this.esc) {
        const next = this.peek();
        if (next === '"' || next === "$" || next === this.esc) {
          this.pos++;
          this.emit(next, false);
          continue;
        }
      }
      this.emit(ch, false);
    }
  }

  private name(): string {
    let name = "";
    while (this.pos < this.chars.length && NAME_CHAR.test(this.peek()!))
      name += this.chars[this.pos++]!;
    return name;
  }

  /** Text up to the closing brace of `${name<op>word}`, itself expanded (without splitting). */
  private braceWord(): string {
    let out = "";
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) throw new WordError(UNCLOSED);
      if (ch === "}") {
        this.pos++;
        return out;
      }
      if (ch === "$") {
        const value = this.dollar();
        this.grow(value.length);
        out += value;
      } else if (ch === "'" || ch === '"') {
        // Quotes inside a default group its text and are removed.
        this.pos++;
        for (;;) {
          const q = this.chars[this.pos++];
          if (q === undefined)
            throw new WordError(
              `unexpected end of the line while looking for the closing quote (${ch})`,
            );
          if (q === ch) break;
          if (q === "$" && ch === '"') {
            this.pos--;
            const value = this.dollar();
            this.grow(value.length);
            out += value;
            continue;
          }
          out += q;
        }
      } else {
        this.pos++;
        if (ch === this.esc) {
          const next = this.chars[this.pos++];
          if (next === undefined) throw new WordError(UNCLOSED);
          out += next;
        } else out += ch;
      }
    }
  }

  private dollar(): string {
    this.pos++; // $
    if (this.peek() !== "{") {
      const name = this.name();
      return name === "" ? "$" : (this.lookup(name) ?? "");
    }
    this.pos++; // {
    const name = this.name();
    if (name === "") {
      const next = this.peek();
      throw new WordError(
        next === undefined
          ? UNCLOSED
          : `bad substitution: "\${${next}" does not start with a variable name`,
      );
    }
    const op = this.chars[this.pos++];
    if (op === undefined) throw new WordError(`missing } to close \${${name}`);
    if (op === "}") return this.lookup(name) ?? "";
    let colon = false;
    let modifier = op;
    if (op === ":") {
      colon = true;
      const next = this.chars[this.pos++];
      if (next === undefined) throw new WordError(`missing } to close \${${name}`);
      modifier = next;
    }
    if (modifier !== "-" && modifier !== "+" && modifier !== "?") {
      throw new WordError(
        `unsupported modifier "${colon ? ":" : ""}${modifier}" in \${${name}...}: use :-, -, :+, +, :? or ?`,
      );
    }
    const word = this.braceWord();
    const value = this.lookup(name);
    const set = colon ? value !== undefined && value !== "" : value !== undefined;
    if (modifier === "-") return set ? value! : word;
    if (modifier === "+") return set ? word : "";
    if (!set) throw new WordError(`${name}: ${word === "" ? "is not set" : word}`);
    return value!;
  }
}
