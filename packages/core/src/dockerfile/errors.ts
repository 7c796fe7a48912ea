/**
 * A problem in a Dockerfile, a .dockerignore or a build argument, located at a line when it
 * has one. The message is written for the person who wrote the Dockerfile: it names the line
 * and the instruction, and says what to do instead where there is something to do.
 */
export class DockerfileError extends Error {
  override readonly name = "DockerfileError";
  constructor(
    /** The problem alone, without the location. */
    readonly problem: string,
    /** 1-based line of the instruction, when the problem belongs to one. */
    readonly line?: number,
    /** The file it is in ("Dockerfile", "build/Dockerfile.prod", ".dockerignore"). */
    readonly file = "Dockerfile",
  ) {
    super(line === undefined ? `${file}: ${problem}` : `${file} line ${line}: ${problem}`);
  }

  /** The same problem reported against another file name or line. */
  at(file: string, line = this.line): DockerfileError {
    return new DockerfileError(this.problem, line, file);
  }
}
