import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

/** A build context folder: files by path (a trailing `*` on the name: executable). */
export function contextDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "berth-ctx-"));
  for (const [name, content] of Object.entries(files)) {
    const path = join(dir, name.replace(/\*$/, ""));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    if (name.endsWith("*")) chmodSync(path, 0o755);
  }
  return dir;
}

/**
 * The build context of the build tests: a six-step Dockerfile from scratch (an ARG, two
 * COPYs, one of them an executable under bin/, an ENV, a CMD), `hello.txt` saying `hello`.
 */
export function sixStepContext(hello: string): Record<string, string> {
  return {
    Dockerfile: [
      "FROM scratch",
      "ARG VERSION=0",
      "COPY hello.txt /hello.txt",
      "COPY bin/ /usr/bin/",
      "ENV VERSION=$VERSION",
      'CMD ["/usr/bin/run"]',
      "",
    ].join("\n"),
    "hello.txt": hello,
    "bin/run*": "#!/bin/sh\necho hi\n",
  };
}
