import { posix } from "node:path";
import { createGunzip, constants as zlibConstants } from "node:zlib";
import {
  cleanContextPath,
  cleanImagePath,
  compilePattern,
  hasGlob,
  type PathMatcher,
  PatternError,
} from "@berth/core";
import { BudgetExceededError, type BuildBudget } from "./budget";
import { type ContextEntry, yieldToOthers } from "./context";
import { FsError, type ImageFs } from "./filesystem";
import { type LayerEntry, looksLikeTar, readTar, TarFormatError } from "./tar-io";

/*
 * COPY and ADD of context files into a layer, with Docker's rules: a directory source copies
 * its contents, several sources need a directory destination (ending in `/`, or one that exists
 * in the image), a relative destination is under WORKDIR, symbolic links in the destination are
 * followed inside the image, and ownership is root unless --chown says otherwise. ADD unpacks
 * a local tar archive (plain or gzip-compressed) into the destination; other archives
 * (bzip2, xz) are copied as files.
 */

export interface CopyRequest {
  keyword: "COPY" | "ADD";
  /** Expanded sources, as written (relative to the context root). */
  sources: string[];
  /** Expanded destination, as written. */
  dest: string;
  workdir: string;
  owner?: { uid: number; gid: number };
  /** Mode from --chmod, applied to files and directories copied. */
  chmod?: number;
  /** The context after .dockerignore. */
  context: Map<string, ContextEntry>;
  /** Whether .dockerignore left a path out (for the error message). */
  ignored: (path: string) => boolean;
  fs: ImageFs;
  /** What the build may still unpack: ADDed archives draw on it. */
  budget: BuildBudget;
}

export class CopyError extends Error {
  override readonly name = "CopyError";
}

const URL_SOURCE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/|^git@/;
const MAX_LINK_HOPS = 40;

/** The entries of the layer a COPY or ADD makes. */
export async function copyEntries(req: CopyRequest): Promise<LayerEntry[]> {
  const matches: { entry: ContextEntry; name: string }[] = [];
  for (const source of req.sources) {
    if (URL_SOURCE.test(source)) {
      throw new CopyError(
        req.keyword === "ADD"
          ? `ADD from a URL (${source}) is not supported: Berth builds make no downloads; put the file in the build context`
          : `COPY copies files of the build context, not URLs (${source})`,
      );
    }
    matches.push(...(await matchSource(req, source)));
  }
  const destWritten = req.dest;
  const destAbs = cleanImagePath(
    destWritten.startsWith("/") ? destWritten : `${req.workdir}/${destWritten}`,
  );
  let destReal: string;
  try {
    destReal = req.fs.resolve(destAbs, true);
  } catch (error) {
    if (error instanceof FsError)
      throw new CopyError(`destination ${destWritten}: ${error.message}`);
    throw error;
  }
  const destIsDir =
    destWritten.endsWith("/") ||
    destWritten === "." ||
    destWritten.endsWith("/.") ||
    destReal === "" ||
    req.fs.get(destReal)?.type === "dir";
  if (matches.length > 1 && !destIsDir) {
    throw new CopyError(
      `${req.keyword} with several sources needs a directory destination ending with /: write ${destWritten}/`,
    );
  }

  const out = new Map<string, LayerEntry>();
  const owner = req.owner ?? { uid: 0, gid: 0 };
  const put = (path: string, entry: Omit<LayerEntry, "path">) => {
    out.set(path, { path, ...entry });
  };
  const fileMode = (mode: number) => req.chmod ?? mode;

  for (const { entry, name } of matches) {
    if (entry.type === "dir") {
      // A directory's contents go into the destination; a destination it creates takes the
      // directory's mode, one the image has keeps its own.
      const existing = req.fs.get(destReal);
      if (destReal === "") {
        // The root itself is never an entry of a layer.
      } else if (existing?.type === "dir") {
        put(destReal, { type: "dir", mode: existing.mode, uid: existing.uid, gid: existing.gid });
      } else {
        put(destReal, { type: "dir", mode: fileMode(entry.mode), ...owner });
      }
      const prefix = entry.path === "" ? "" : `${entry.path}/`;
      for (const [path, child] of req.context) {
        if (path === entry.path || !path.startsWith(prefix)) continue;
        const target = joinPath(destReal, path.slice(prefix.length));
        put(target, contentOf(child, owner, fileMode));
      }
      continue;
    }
    if (
      req.keyword === "ADD" &&
      entry.type === "file" &&
      entry.content &&
      (await isArchive(entry.content))
    ) {
      await unpackInto(entry, destReal, req, put);
      continue;
    }
    const target = destIsDir ? joinPath(destReal, posix.basename(name)) : destReal;
    put(target, contentOf(entry, owner, fileMode));
  }

  // Parent directories: what the image has (its metadata kept), else created as root 0755;
  // a destination directory this COPY creates belongs to the --chown owner.
  const entries = [...out.values()];
  for (const e of entries) {
    for (let dir = parentOf(e.path); dir !== ""; dir = parentOf(dir)) {
      if (out.has(dir)) continue;
      const existing = req.fs.get(dir);
      if (existing?.type === "dir") {
        out.set(dir, {
          path: dir,
          type: "dir",
          mode: existing.mode,
          uid: existing.uid,
          gid: existing.gid,
        });
      } else if (existing) {
        throw new CopyError(
          `cannot copy to /${e.path}: /${dir} is a file in the image, not a directory`,
        );
      } else {
        const own = dir === destReal ? owner : { uid: 0, gid: 0 };
        out.set(dir, { path: dir, type: "dir", mode: 0o755, ...own });
      }
    }
  }
  return [...out.values()];
}

function contentOf(
  entry: ContextEntry,
  owner: { uid: number; gid: number },
  fileMode: (mode: number) => number,
): Omit<LayerEntry, "path"> {
  if (entry.type === "symlink") {
    return { type: "symlink", mode: 0o777, ...owner, linkname: entry.linkname ?? "" };
  }
  if (entry.type === "dir") return { type: "dir", mode: fileMode(entry.mode), ...owner };
  return {
    type: "file",
    mode: fileMode(entry.mode),
    ...owner,
    content: entry.content ?? Buffer.alloc(0),
  };
}

/** The context entries a source names: a path, or a pattern matching several. */
async function matchSource(
  req: CopyRequest,
  source: string,
): Promise<{ entry: ContextEntry; name: string }[]> {
  const clean = cleanContextPath(source.replace(/^\/+/, ""));
  if (clean === null) {
    throw new CopyError(`${source} is outside the build context: sources are relative to its root`);
  }
  if (hasGlob(clean)) {
    let regex: PathMatcher;
    try {
      regex = compilePattern(clean);
      req.budget.takePatternTests(req.context.size, `${req.keyword} ${source}`);
    } catch (error) {
      if (error instanceof PatternError || error instanceof BudgetExceededError) {
        throw new CopyError(error.message);
      }
      throw error;
    }
    const matched: string[] = [];
    let n = 0;
    for (const path of req.context.keys()) {
      if (++n % 2000 === 0) await yieldToOthers();
      if (regex.test(path)) matched.push(path);
    }
    const found = matched
      .sort()
      .map((path) => ({ entry: follow(req, req.context.get(path)!, source), name: path }));
    if (found.length === 0) {
      throw new CopyError(`no file in the build context matches ${source}`);
    }
    return found;
  }
  if (clean === "") return [{ entry: { path: "", type: "dir", mode: 0o755 }, name: "" }];
  const entry = req.context.get(clean);
  if (!entry) {
    throw new CopyError(
      req.ignored(clean)
        ? `${source} is excluded by .dockerignore`
        : `${source} was not found in the build context`,
    );
  }
  return [{ entry: follow(req, entry, source), name: clean }];
}

/** A source that is a symbolic link copies what it points to, inside the context. */
function follow(req: CopyRequest, entry: ContextEntry, source: string): ContextEntry {
  let current = entry;
  for (let hops = 0; current.type === "symlink"; hops++) {
    if (hops >= MAX_LINK_HOPS) throw new CopyError(`${source}: too many levels of symbolic links`);
    const link = current.linkname ?? "";
    const target = cleanContextPath(
      link.startsWith("/") ? link.slice(1) : `${parentOf(current.path)}/${link}`,
    );
    const next = target === null ? undefined : target === "" ? rootEntry : req.context.get(target);
    if (!next) {
      throw new CopyError(
        `${source} is a symbolic link to ${link}, which is not in the build context`,
      );
    }
    current = next;
  }
  return current;
}

const rootEntry: ContextEntry = { path: "", type: "dir", mode: 0o755 };

function parentOf(path: string): string {
  const cut = path.lastIndexOf("/");
  return cut < 0 ? "" : path.slice(0, cut);
}

function joinPath(dir: string, rest: string): string {
  return dir === "" ? rest : `${dir}/${rest}`;
}

async function isArchive(content: Buffer): Promise<boolean> {
  if (looksLikeTar(content)) return true;
  if (content.length < 2 || content[0] !== 0x1f || content[1] !== 0x8b) return false;
  // A gzip file is unpacked only when what it holds is a tar: its first block tells.
  return looksLikeTar(await gunzipHead(content, 512));
}

/** The first `want` bytes a gzip stream decompresses to (fewer when it ends or breaks). */
function gunzipHead(content: Buffer, want: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const gunzip = createGunzip({ finishFlush: zlibConstants.Z_SYNC_FLUSH });
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      gunzip.destroy();
      resolve(Buffer.concat(chunks));
    };
    gunzip.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      // Stop decompressing as soon as the head is there: a bomb is never inflated here.
      if (size >= want) done();
    });
    gunzip.on("error", done);
    gunzip.on("end", done);
    gunzip.end(content);
  });
}

/** ADD of a local archive: its entries under the destination, ownership kept unless --chown. */
async function unpackInto(
  archive: ContextEntry,
  destReal: string,
  req: CopyRequest,
  put: (path: string, entry: Omit<LayerEntry, "path">) => void,
): Promise<void> {
  const files = new Map<string, Buffer>();
  try {
    await readTar(
      archive.content!,
      async (header, read) => {
        const rel = cleanContextPath(header.name.replace(/^\/+/, ""));
        if (rel === null) {
          throw new CopyError(
            `archive ${archive.path} has an entry outside its root: ${header.name}`,
          );
        }
        if (rel === "") return;
        const path = joinPath(destReal, rel);
        const owner = req.owner ?? { uid: header.uid, gid: header.gid };
        const mode = req.chmod ?? header.mode;
        switch (header.type) {
          case "file": {
            const content = await read();
            files.set(rel, content);
            put(path, { type: "file", mode, ...owner, content });
            break;
          }
          case "dir":
            put(path, { type: "dir", mode, ...owner });
            break;
          case "symlink":
            put(path, { type: "symlink", mode: 0o777, ...owner, linkname: header.linkname });
            break;
          case "hardlink": {
            const target = cleanContextPath(header.linkname.replace(/^\/+/, ""));
            const content = target === null ? undefined : files.get(target);
            if (!content) {
              throw new CopyError(
                `archive ${archive.path} has a hard link to ${header.linkname}, which it does not hold before it`,
              );
            }
            put(path, { type: "file", mode, ...owner, content });
            break;
          }
          default:
            throw new CopyError(
              `archive ${archive.path} holds ${header.name}, which is neither a file, a directory nor a symbolic link`,
            );
        }
      },
      { budget: req.budget, what: `ADD ${archive.path}` },
    );
  } catch (error) {
    if (error instanceof BudgetExceededError) throw new CopyError(error.message);
    if (error instanceof TarFormatError) {
      throw new CopyError(`archive ${archive.path} cannot be unpacked: ${error.message}`);
    }
    throw error;
  }
}

/** `--chmod` as Docker accepts it: an octal mode. */
export function parseChmod(value: string): number {
  if (!/^[0-7]{1,4}$/.test(value)) {
    throw new CopyError(`--chmod=${value} is not an octal mode such as 644 or 0755`);
  }
  return Number.parseInt(value, 8);
}

/** `--chown=user[:group]`: numeric ids, or names from the image's /etc/passwd and /etc/group. */
export function parseChown(value: string, fs: ImageFs): { uid: number; gid: number } {
  const [userPart, groupPart, extra] = value.split(":");
  if (extra !== undefined || userPart === undefined || userPart === "" || groupPart === "") {
    throw new CopyError(`--chown=${value} is not <user>[:<group>]`);
  }
  let uid: number;
  let gid: number;
  if (/^\d+$/.test(userPart)) {
    uid = Number(userPart);
    gid = uid;
  } else {
    const user = fs.user(userPart);
    if (!user) {
      throw new CopyError(
        `--chown: user "${userPart}" is not in the image's /etc/passwd; use a numeric id`,
      );
    }
    uid = user.uid;
    gid = user.gid;
  }
  if (groupPart !== undefined) {
    if (/^\d+$/.test(groupPart)) gid = Number(groupPart);
    else {
      const group = fs.group(groupPart);
      if (group === undefined) {
        throw new CopyError(
          `--chown: group "${groupPart}" is not in the image's /etc/group; use a numeric id`,
        );
      }
      gid = group;
    }
  }
  if (uid > 0x7fffffff || gid > 0x7fffffff) throw new CopyError(`--chown=${value}: id too large`);
  return { uid, gid };
}
