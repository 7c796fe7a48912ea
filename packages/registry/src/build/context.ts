import type { Readable } from "node:stream";
import { cleanContextPath, type IgnoreMatcher } from "@berth/core";
import { BudgetExceededError, BuildBudget, MAX_BUILD_CONTENT_BYTES } from "./budget";
import { BUILD_LIMIT_DEFAULTS } from "./limits";
import { readTar, TarFormatError } from "./tar-io";

/*
 * The build context: the files a Dockerfile may COPY or ADD, read from the uploaded tar into
 * memory (it is size-limited at upload). Paths are clean and relative; "" is the root.
 */

export interface ContextEntry {
  path: string;
  type: "file" | "dir" | "symlink";
  mode: number;
  content?: Buffer;
  linkname?: string;
}

export interface BuildContextFiles {
  entries: Map<string, ContextEntry>;
  /** Bytes of file content. */
  bytes: number;
}

/** Largest upload of a build context by default (the tar as sent, compressed or not). */
export const MAX_CONTEXT_BYTES = BUILD_LIMIT_DEFAULTS.contextMaxBytes;
/** Largest file content a context may unpack to: the whole build's budget. */
export const MAX_CONTEXT_CONTENT_BYTES = MAX_BUILD_CONTENT_BYTES;
export const MAX_CONTEXT_ENTRIES = 100_000;

export class ContextError extends Error {
  override readonly name = "ContextError";
}

/**
 * Read a context tar, drawing on the build's unpack budget. Hard links become copies of their
 * target; devices and fifos are refused.
 */
export async function readContext(
  source: Readable | Uint8Array,
  budget: BuildBudget = new BuildBudget(),
): Promise<BuildContextFiles> {
  const entries = new Map<string, ContextEntry>();
  let count = 0;
  let bytes = 0;
  try {
    await readTar(
      source,
      async (header, read) => {
        if (++count > MAX_CONTEXT_ENTRIES) {
          throw new ContextError(`the build context has more than ${MAX_CONTEXT_ENTRIES} entries`);
        }
        const path = cleanContextPath(header.name.replace(/^\/+/, ""));
        if (path === null) {
          throw new ContextError(
            `the build context has an entry outside its root: "${clipName(header.name)}"`,
          );
        }
        if (path === "") return; // the root itself
        switch (header.type) {
          case "file": {
            const content = await read();
            bytes += content.length;
            entries.set(path, { path, type: "file", mode: header.mode, content });
            break;
          }
          case "dir":
            entries.set(path, { path, type: "dir", mode: header.mode });
            break;
          case "symlink":
            entries.set(path, { path, type: "symlink", mode: 0o777, linkname: header.linkname });
            break;
          case "hardlink": {
            const target = cleanContextPath(header.linkname.replace(/^\/+/, ""));
            const linked = target === null ? undefined : entries.get(target);
            if (linked?.type !== "file") {
              throw new ContextError(
                `the build context has a hard link "${clipName(path)}" to "${clipName(header.linkname)}", which is not a file before it in the archive`,
              );
            }
            entries.set(path, { ...linked, path, mode: header.mode || linked.mode });
            break;
          }
          default:
            throw new ContextError(
              `the build context holds "${clipName(path)}", which is neither a file, a directory nor a symbolic link`,
            );
        }
      },
      { budget, what: "the build context" },
    );
  } catch (error) {
    if (error instanceof ContextError) throw error;
    if (error instanceof BudgetExceededError) throw new ContextError(error.message);
    if (error instanceof TarFormatError) {
      throw new ContextError(`the build context cannot be read: ${error.message}`);
    }
    throw error;
  }
  // Directories implied by their contents exist too.
  for (const path of [...entries.keys()]) {
    for (let cut = path.lastIndexOf("/"); cut > 0; cut = path.lastIndexOf("/", cut - 1)) {
      const dir = path.slice(0, cut);
      if (entries.has(dir)) break;
      entries.set(dir, { path: dir, type: "dir", mode: 0o755 });
    }
  }
  return { entries, bytes };
}

const YIELD_EVERY = 2000;

export function yieldToOthers(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function clipName(name: string): string {
  return name.length > 200 ? `${name.slice(0, 200)}…` : name;
}

/**
 * The context as COPY sees it: what .dockerignore leaves out is gone, except directories that
 * still hold a re-included file. Matching draws on the build's budget and lets other requests
 * run every few thousand paths.
 */
export async function applyIgnore(
  files: BuildContextFiles,
  ignore: IgnoreMatcher | null,
  budget: BuildBudget = new BuildBudget(),
): Promise<Map<string, ContextEntry>> {
  if (!ignore) return files.entries;
  budget.takePatternTests(ignore.patterns.length * files.entries.size, ".dockerignore");
  const kept = new Map<string, ContextEntry>();
  let n = 0;
  for (const [path, entry] of files.entries) {
    if (++n % YIELD_EVERY === 0) await yieldToOthers();
    if (!ignore.ignores(path)) kept.set(path, entry);
  }
  for (const path of [...kept.keys()]) {
    for (let cut = path.lastIndexOf("/"); cut > 0; cut = path.lastIndexOf("/", cut - 1)) {
      const dir = path.slice(0, cut);
      if (kept.has(dir)) break;
      const entry = files.entries.get(dir);
      if (entry) kept.set(dir, entry);
    }
  }
  return kept;
}
