/* biome-ignore-all lint/suspicious/noTemplateCurlyInString: Dockerfiles write variables as ${VAR} */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  compilePattern,
  DockerfileError,
  expandWord,
  expandWords,
  parseDockerfile,
  parseDockerignore,
  readDockerfile,
  splitWords,
  WordError,
} from "../src/index";

const env = (vars: Record<string, string>) => (name: string) =>
  Object.hasOwn(vars, name) ? vars[name] : undefined;

function problem(text: string): DockerfileError {
  try {
    readDockerfile(text);
  } catch (error) {
    expect(error).toBeInstanceOf(DockerfileError);
    return error as DockerfileError;
  }
  throw new Error("expected a DockerfileError");
}

describe("parseDockerfile", () => {
  it("reads instructions, comments, continuations and line numbers", () => {
    const parsed = parseDockerfile(
      [
        "# a comment",
        "",
        "from scratch",
        "COPY --chown=1:2 \\",
        "  # comment inside",
        "  a b \\",
        "",
        "  /dest/",
        'CMD ["run", "--fast"]',
        "ENTRYPOINT exec thing",
      ].join("\n"),
    );
    expect(parsed.escape).toBe("\\");
    expect(parsed.instructions.map((i) => [i.keyword, i.line, i.endLine])).toEqual([
      ["FROM", 3, 3],
      ["COPY", 4, 8],
      ["CMD", 9, 9],
      ["ENTRYPOINT", 10, 10],
    ]);
    const copy = parsed.instructions[1]!;
    expect(copy.flags).toEqual([{ name: "chown", value: "1:2" }]);
    expect(copy.args.split(/\s+/)).toEqual(["a", "b", "/dest/"]);
    expect(parsed.instructions[2]!.json).toEqual(["run", "--fast"]);
    expect(parsed.instructions[3]!.json).toBeNull();
  });

  it("honours the escape directive and ignores other directives", () => {
    const parsed = parseDockerfile(
      "# syntax=docker/dockerfile:1\n# escape=`\nFROM scratch\nCOPY a `\n  b\n",
    );
    expect(parsed.escape).toBe("`");
    expect(parsed.instructions[1]!.args.split(/\s+/)).toEqual(["a", "b"]);
    // After the first instruction a directive is a comment.
    expect(parseDockerfile("FROM scratch\n# escape=`\n").escape).toBe("\\");
  });

  it("refuses bad directives", () => {
    expect(() => parseDockerfile("# escape=x\nFROM scratch")).toThrow(/line 1: invalid escape/);
    expect(() => parseDockerfile("# escape=`\n# escape=\\\nFROM scratch")).toThrow(/twice/);
  });

  it("falls back to the shell form when the JSON form is not an array of strings", () => {
    const parsed = parseDockerfile('FROM scratch\nCMD ["a", 1]\nCMD [oops');
    expect(parsed.instructions[1]!.json).toBeNull();
    expect(parsed.instructions[2]!.json).toBeNull();
  });
});

describe("readDockerfile", () => {
  it("decodes every supported instruction", () => {
    const df = readDockerfile(
      [
        "ARG BASE=scratch",
        "FROM --platform=linux/amd64 ${BASE} AS app",
        "ARG BASE",
        "ARG A=1 B",
        'ENV PATH=/bin:$PATH NAME="a b"',
        "ENV LEGACY value with spaces",
        'LABEL "com.example.x"="y" z=1',
        "WORKDIR /app",
        'COPY --chown=10:20 --chmod=640 --link ["a b", "/dest"]',
        "ADD x.tar /opt/",
        "EXPOSE 80 53/udp",
        "USER app:staff",
        "CMD run it",
        'ENTRYPOINT ["/bin/app"]',
      ].join("\n"),
    );
    expect(df.globalArgs).toHaveLength(1);
    expect(df.from).toMatchObject({
      image: "${BASE}",
      platform: "linux/amd64",
      stageName: "app",
      line: 2,
    });
    expect(df.steps.map((s) => s.kind)).toEqual([
      "ARG",
      "ARG",
      "ENV",
      "ENV",
      "LABEL",
      "WORKDIR",
      "COPY",
      "ADD",
      "EXPOSE",
      "USER",
      "CMD",
      "ENTRYPOINT",
    ]);
    expect(df.steps[1]).toMatchObject({ args: [{ name: "A", value: "1" }, { name: "B" }] });
    expect(df.steps[2]).toMatchObject({
      pairs: [
        { name: "PATH", value: "/bin:$PATH" },
        { name: "NAME", value: '"a b"' },
      ],
    });
    expect(df.steps[3]).toMatchObject({ pairs: [{ name: "LEGACY", value: "value with spaces" }] });
    expect(df.steps[6]).toMatchObject({
      sources: ["a b"],
      dest: "/dest",
      chown: "10:20",
      chmod: "640",
    });
    expect(df.steps[10]).toMatchObject({ exec: null, shell: "run it" });
    expect(df.steps[11]).toMatchObject({ exec: ["/bin/app"] });
  });

  it("refuses RUN and every other unsupported instruction, naming the line", () => {
    for (const keyword of [
      "RUN",
      "SHELL",
      "VOLUME",
      "HEALTHCHECK",
      "ONBUILD",
      "STOPSIGNAL",
      "MAINTAINER",
    ]) {
      const error = problem(`FROM scratch\nCOPY a /\n${keyword} something\n`);
      expect(error.line).toBe(3);
      expect(error.message).toMatch(new RegExp(`^Dockerfile line 3: ${keyword} `));
      expect(error.message).toMatch(/not supported/);
    }
    expect(problem("FROM scratch\nRUN make").message).toMatch(/without a container runtime/);
    expect(problem("FROM scratch\nFROBNICATE x").message).toBe(
      'Dockerfile line 2: unknown instruction "FROBNICATE" (Berth builds support FROM, ARG, ENV, WORKDIR, COPY, ADD, LABEL, EXPOSE, USER, CMD, ENTRYPOINT)',
    );
  });

  it("reports the first problem in file order", () => {
    expect(problem("FROM scratch\nRUN a\nCOPY --nope a b").line).toBe(2);
    expect(problem("FROM scratch\nCOPY --nope a b\nRUN a").line).toBe(2);
  });

  it("explains malformed Dockerfiles", () => {
    const cases: [string, number | undefined, RegExp][] = [
      ["", undefined, /is empty/],
      ["# only a comment\n", undefined, /is empty/],
      ["ARG X=1\n", undefined, /no FROM/],
      ["COPY a b\nFROM scratch", 1, /COPY before FROM/],
      ["FROM scratch\nFROM scratch", 2, /multi-stage/],
      ["FROM", 1, /FROM needs an image/],
      ["FROM a b", 1, /FROM takes one image/],
      ["FROM --platfrom=x scratch", 1, /unknown flag --platfrom for FROM/],
      ["FROM scratch\nCOPY onlyone", 2, /at least one source and a destination/],
      ["FROM scratch\nCOPY --from=build a b", 2, /multi-stage/],
      ["FROM scratch\nCOPY --chown a b", 2, /--chown needs a value/],
      ["FROM scratch\nCOPY --chown=1 --chown=2 a b", 2, /twice/],
      ["FROM scratch\nCOPY <<EOF /x\nhello\nEOF", 2, /here-document/],
      ["FROM scratch\nADD --checksum=sha256:00 a b", 2, /downloads/],
      ["FROM scratch\nENV", 2, /ENV needs/],
      ["FROM scratch\nENV ONLYKEY", 2, /needs a value/],
      ["FROM scratch\nENV A=1 B", 2, /has no "="/],
      ["FROM scratch\nLABEL =x", 2, /empty key/],
      ["FROM scratch\nARG", 2, /ARG needs a name/],
      ["FROM scratch\nARG 1X", 2, /not a valid ARG name/],
      ["FROM scratch\nUSER a b", 2, /exactly one/],
      ["FROM scratch\nWORKDIR", 2, /WORKDIR needs a path/],
      ["FROM scratch\nEXPOSE", 2, /EXPOSE needs/],
      ["FROM scratch\nCMD", 2, /CMD needs a command/],
      ["FROM scratch\n{{weird}}", 2, /is not an instruction/],
      ["FROM scratch\nCOPY --=x a b", 2, /not a valid flag/],
    ];
    for (const [text, line, message] of cases) {
      const error = problem(text);
      expect(error.line, text).toBe(line);
      expect(error.message, text).toMatch(message);
    }
  });
});

describe("words", () => {
  it("splits words keeping quotes", () => {
    expect(splitWords(`a "b c" 'd e'f g\\ h`)).toEqual([`a`, `"b c"`, `'d e'f`, `g\\ h`]);
    expect(splitWords(`x="" y`)).toEqual([`x=""`, `y`]);
  });

  it("expands variables the way Docker does", () => {
    const lookup = env({ A: "1", E: "", S: "two words" });
    const cases: [string, string][] = [
      ["$A", "1"],
      ["${A}x", "1x"],
      ["$Ax", ""],
      ["${B:-d}", "d"],
      ["${E:-d}", "d"],
      ["${E-d}", ""],
      ["${B-d}", "d"],
      ["${A:+set}", "set"],
      ["${E:+set}", ""],
      ["${E+set}", "set"],
      ["${B:-$A$A}", "11"],
      ["'$A'", "$A"],
      ['"$A"', "1"],
      ['"a\\"b"', 'a"b'],
      ["a\\ b", "a b"],
      ["$", "$"],
      ["cost: $5", "cost: "],
      ["$(cmd)", "$(cmd)"],
      ["${A:-'q u'}", "1"],
      ["${B:-'q u'}", "q u"],
    ];
    for (const [word, expected] of cases) expect(expandWord(word, lookup), word).toBe(expected);
    expect(expandWords('$S "$S" x', lookup)).toEqual(["two", "words", "two words", "x"]);
  });

  it("reports broken variables and quotes", () => {
    const lookup = env({ A: "1" });
    expect(() => expandWord("${A", lookup)).toThrow(WordError);
    expect(() => expandWord("${}", lookup)).toThrow(/bad substitution/);
    expect(() => expandWord("${A%x}", lookup)).toThrow(/unsupported modifier/);
    expect(() => expandWord("'open", lookup)).toThrow(/single quote/);
    expect(() => expandWord('"open', lookup)).toThrow(/double quote/);
    expect(() => expandWord("${B:?must be set}", lookup)).toThrow("B: must be set");
    expect(() => expandWord("${B?}", lookup)).toThrow("B: is not set");
  });
});

describe("patterns", () => {
  it("matches like Docker", () => {
    const m = (pattern: string, path: string) => compilePattern(pattern).test(path);
    expect(m("*.txt", "a.txt")).toBe(true);
    expect(m("*.txt", "dir/a.txt")).toBe(false);
    expect(m("dir/*", "dir/a")).toBe(true);
    expect(m("**/a.txt", "a.txt")).toBe(true);
    expect(m("**/a.txt", "x/y/a.txt")).toBe(true);
    expect(m("dir/**", "dir/x/y")).toBe(true);
    expect(m("f?le", "file")).toBe(true);
    expect(m("f[a-j]le", "file")).toBe(true);
    expect(m("f[^a-j]le", "file")).toBe(false);
    expect(m("a\\*b", "a*b")).toBe(true);
    expect(m("a\\*b", "axb")).toBe(false);
    expect(m("a.b", "axb")).toBe(false);
  });

  it("reads .dockerignore with exceptions and parent directories", () => {
    const ig = parseDockerignore("# comment\n*.log\n!keep.log\nbuild\n/secret/\n**/tmp\n");
    expect(ig.ignores("a.log")).toBe(true);
    expect(ig.ignores("keep.log")).toBe(false);
    expect(ig.ignores("build/x/y")).toBe(true);
    expect(ig.ignores("secret/key")).toBe(true);
    expect(ig.ignores("a/b/tmp/c")).toBe(true);
    expect(ig.ignores("src/main.c")).toBe(false);
    expect(() => parseDockerignore("ok\n[bad")).toThrow(/\.dockerignore line 2/);
  });
});

describe("properties", () => {
  const lines = fc.array(
    fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom(
        "FROM scratch",
        "FROM ns/base:1",
        "COPY a b",
        'COPY --chown=1:1 ["a", "b"]',
        "ENV A=$B",
        'ENV A="x',
        "ARG X=${Y:-z}",
        "RUN make",
        'CMD ["x"]',
        "\\",
        "# escape=`",
        "LABEL a=b c",
        "EXPOSE 80/tcp",
        "WORKDIR ${X",
      ),
    ),
    { maxLength: 12 },
  );

  it("never fails with anything but a DockerfileError", () => {
    fc.assert(
      fc.property(lines, (ls) => {
        const text = ls.join("\n");
        try {
          const df = readDockerfile(text);
          expect(df.from.kind).toBe("FROM");
        } catch (error) {
          expect(error).toBeInstanceOf(DockerfileError);
          const e = error as DockerfileError;
          expect(e.message).toMatch(/^Dockerfile( line \d+)?: /);
          if (e.line !== undefined) {
            expect(e.line).toBeGreaterThanOrEqual(1);
            expect(e.line).toBeLessThanOrEqual(Math.max(1, text.split(/\r\n|\r|\n/).length));
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it("never crashes on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300, unit: "grapheme-ascii" }), (text) => {
        try {
          readDockerfile(text);
        } catch (error) {
          expect(error).toBeInstanceOf(DockerfileError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("expansion throws only WordErrors, and text without specials is unchanged", () => {
    const lookup = env({ A: "x" });
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (word) => {
        try {
          expandWord(word, lookup);
          expandWords(word, lookup);
        } catch (error) {
          expect(error).toBeInstanceOf(WordError);
        }
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_./:-]*$/), (word) => {
        expect(expandWord(word, lookup)).toBe(word);
      }),
      { numRuns: 200 },
    );
  });

  it("patterns compile or fail with a clear error, and match their own literal text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (pattern) => {
        try {
          compilePattern(pattern);
        } catch (error) {
          expect((error as Error).name).toBe("PatternError");
        }
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/), (path) => {
        expect(compilePattern(path).test(path)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
