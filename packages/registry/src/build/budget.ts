/*
 * What one build may unpack and match, all sources together: the context tar, every archive an ADD
 * unpacks and the base image's layers draw from the same budget of content bytes and
 * entries, so no archive (a gzip of zeros, a tar of a million empty files) can make a build
 * hold more than that, however many of them a Dockerfile names.
 */

import { BUILD_LIMIT_DEFAULTS, buildLimits } from "./limits";

/** File content a build may unpack in all by default (a gzip-compressed archive can expand). */
export const MAX_BUILD_CONTENT_BYTES = BUILD_LIMIT_DEFAULTS.unpackBytes;
/** Archive entries a build may unpack in all by default (context, ADDs and base layers). */
export const MAX_BUILD_ENTRIES = BUILD_LIMIT_DEFAULTS.unpackEntries;
/**
 * Path-against-pattern tests a build may make (.dockerignore rules and COPY/ADD globs against
 * the context's paths): each is linear (RE2), but patterns times paths can still be large.
 */
export const MAX_PATTERN_TESTS = 5_000_000;

export class BudgetExceededError extends Error {
  override readonly name = "BudgetExceededError";
}

export class BuildBudget {
  private bytesUsed = 0;
  private entriesUsed = 0;

  constructor(
    readonly maxBytes: number = buildLimits().unpackBytes,
    readonly maxEntries: number = buildLimits().unpackEntries,
    readonly maxPatternTests: number = MAX_PATTERN_TESTS,
  ) {}

  private testsUsed = 0;

  /** `n` more path-against-pattern tests, for `what`. */
  takePatternTests(n: number, what: string): void {
    this.testsUsed += n;
    if (this.testsUsed > this.maxPatternTests) {
      throw new BudgetExceededError(
        `${what} takes the build past ${this.maxPatternTests} path-against-pattern tests (patterns times context paths): use fewer patterns, or a smaller context`,
      );
    }
  }

  get bytes(): number {
    return this.bytesUsed;
  }

  get entries(): number {
    return this.entriesUsed;
  }

  /** One more archive entry, from `what` (for the message). */
  takeEntry(what: string): void {
    if (++this.entriesUsed > this.maxEntries) {
      throw new BudgetExceededError(
        `${what} takes the build past ${this.maxEntries} archive entries (the context, ADDed archives and base layers together)`,
      );
    }
  }

  /** `n` more bytes of unpacked content, from `what`. */
  takeBytes(n: number, what: string): void {
    this.bytesUsed += n;
    if (this.bytesUsed > this.maxBytes) {
      throw new BudgetExceededError(
        `${what} takes the build past ${this.maxBytes} bytes of unpacked content (the context and ADDed archives together)`,
      );
    }
  }
}
