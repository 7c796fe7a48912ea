/**
 * Exit codes scripts can rely on:
 *   0  the command did what it was asked
 *   1  it ran and failed: the server refused or failed (not found, conflict, quota...), the
 *      server or tracker could not be reached, or some items of a bulk command failed
 *   2  bad usage, found before anything was sent: unknown command or option, missing or
 *      malformed argument, no server URL or API key configured, a destructive command
 *      without --force where it cannot ask
 */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** A failure the command itself detected (not a server error), with its exit code. */
export class CommandFailed extends Error {
  override readonly name = "CommandFailed";
  constructor(
    message: string,
    readonly code: string = "FAILED",
    /** More fields of the JSON error (a build failure's Dockerfile line). */
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}
