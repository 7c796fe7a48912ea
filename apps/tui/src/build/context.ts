import { readFile as fsReadFile, lstat, readdir, readlink, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";

/*
 * The build context, as `berth build` and the build screen send it: the directory as it is,
 * in sorted order, as a gzip-compressed tar. Nothing is left out here; the server applies the
 * context's .dockerignore.
 */

/** Something wrong with the local inputs, found before anything is sent. */
export class BuildInputError extends Error {
  override readonly name = "BuildInputError";
}

export interface LocalBuild {
  /** Absolute path of the context directory. */
  dir: string;
  /** The Dockerfile's path inside the context, with `/` separators. */
  dockerfile: string;
  /** The Dockerfile's text, to quote the line a failure names. */
  dockerfileText: string;
}

/**
 * Check the context directory and the Dockerfile before a build. `dockerfile` is a path
 * relative to `base` (the current directory for `berth build -f`, the context for the app's
 * form); it must name a file inside the context, as the server reads it from there.
 */
export async function locateBuild(
  context: string,
  dockerfile: string | undefined,
  base: string,
): Promise<LocalBuild> {
  const dir = resolve(context);
  const info = await stat(dir).catch(() => undefined);
  if (!info) throw new BuildInputError(`the build context ${context} does not exist`);
  if (!info.isDirectory()) {
    throw new BuildInputError(`the build context ${context} is not a directory`);
  }
  const file = dockerfile ? resolve(base, dockerfile) : join(dir, "Dockerfile");
  const inside = relative(dir, file);
  if (inside === "" || inside.startsWith("..") || isAbsolute(inside)) {
    throw new BuildInputError(
      `the Dockerfile ${dockerfile} is not inside the build context ${context}: the server reads it from the context`,
    );
  }
  const text = await fsReadFile(file, "utf8").catch(() => undefined);
  if (text === undefined) {
    throw new BuildInputError(
      dockerfile
        ? `no Dockerfile at ${dockerfile}`
        : `no Dockerfile in ${context} (name another with -f)`,
    );
  }
  return { dir, dockerfile: inside.split(sep).join("/"), dockerfileText: text };
}

export interface PackedContext {
  /** The gzip-compressed tar. */
  tar: Uint8Array;
  /** Regular files and symbolic links in it. */
  files: number;
  /** Bytes of file content, before compression. */
  bytes: number;
}

// Fixed times and owners: the same files give the same upload. The build sets its own
// timestamps and owners (sourceDateEpoch, 0:0 unless --chown) whatever the context says.
const MTIME = new Date(0);

/** Tar the directory `dir`, walking it in sorted order; `signal` stops the walk. */
export async function packContext(dir: string, signal?: AbortSignal): Promise<PackedContext> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((res, rej) => {
    p.on("end", () => res());
    p.on("error", rej);
  });
  const add = (header: Parameters<typeof p.entry>[0], body?: Buffer) =>
    new Promise<void>((res, rej) => {
      const done = (error?: Error | null) => (error ? rej(error) : res());
      if (body) p.entry(header, body, done);
      else p.entry(header, done);
    });
  let files = 0;
  let bytes = 0;
  const walk = async (rel: string): Promise<void> => {
    const names = (await readdir(join(dir, rel))).sort();
    for (const name of names) {
      signal?.throwIfAborted();
      const path = rel === "" ? name : `${rel}/${name}`;
      const full = join(dir, path);
      const st = await lstat(full);
      const common = { mode: st.mode & 0o7777, mtime: MTIME, uid: 0, gid: 0 };
      if (st.isDirectory()) {
        await add({ ...common, name: `${path}/`, type: "directory" });
        await walk(path);
      } else if (st.isFile()) {
        const content = await fsReadFile(full);
        await add({ ...common, name: path, type: "file", size: content.length }, content);
        files++;
        bytes += content.length;
      } else if (st.isSymbolicLink()) {
        await add({ ...common, name: path, type: "symlink", linkname: await readlink(full) });
        files++;
      }
      // Sockets, pipes and devices have no place in an image: left out.
    }
  };
  try {
    await walk("");
  } catch (error) {
    p.destroy();
    throw error;
  }
  p.finalize();
  await ended;
  return { tar: gzipSync(Buffer.concat(chunks)), files, bytes };
}

/** Dockerfile line `line` as `  2 │ RUN make`, for a failure that names it. */
export function quoteLine(dockerfileText: string, line: number | undefined): string | undefined {
  if (line === undefined) return undefined;
  const text = dockerfileText.split(/\r?\n/)[line - 1];
  return text === undefined ? undefined : `${String(line).padStart(4)} │ ${text}`;
}
