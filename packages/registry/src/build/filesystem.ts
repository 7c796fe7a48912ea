import { cleanImagePath } from "@berth/core";
import type { BlobStore } from "../storage/blob-store";
import { BudgetExceededError, type BuildBudget } from "./budget";
import type { LayerEntry } from "./tar-io";
import { readTar, TarFormatError } from "./tar-io";

/*
 * What the image's filesystem holds so far: the base image's layers applied in order
 * (whiteouts included), then this build's layers. Only metadata is kept, plus the content of
 * /etc/passwd and /etc/group, which COPY --chown needs to turn names into ids. COPY uses it to
 * tell whether a destination is a directory, to follow symbolic links in a destination the way
 * Docker does, and to give parent directories in a layer the metadata they already have.
 */

export interface FsNode {
  type: "file" | "dir" | "symlink" | "other";
  mode: number;
  uid: number;
  gid: number;
  linkname?: string;
  content?: Buffer;
}

const KEEP_CONTENT = new Set(["etc/passwd", "etc/group"]);
const MAX_KEPT_CONTENT = 1024 * 1024;
const MAX_SYMLINK_HOPS = 40;
const UNREADABLE_LAYER = /zstd|nondistributable|foreign/;

export class FsError extends Error {
  override readonly name = "FsError";
}

export class ImageFs {
  private readonly nodes = new Map<string, FsNode>();

  constructor() {
    this.nodes.set("", { type: "dir", mode: 0o755, uid: 0, gid: 0 });
  }

  /** The filesystem of stored layers, read in order, their entries taken from `budget`. */
  static async fromLayers(
    store: BlobStore,
    layers: { digest: string; mediaType: string }[],
    budget?: BuildBudget,
  ): Promise<ImageFs> {
    const fs = new ImageFs();
    for (const layer of layers) {
      if (UNREADABLE_LAYER.test(layer.mediaType)) {
        throw new FsError(
          `base layer ${layer.digest} is ${layer.mediaType}, which Berth builds cannot read`,
        );
      }
      const changes: { path: string; node: FsNode; hardlink?: string }[] = [];
      const whiteouts: string[] = [];
      const opaque: string[] = [];
      try {
        await readTar(
          await store.get(layer.digest),
          async (header, read) => {
            const path = cleanImagePath(header.name);
            if (path === "") return;
            const slash = path.lastIndexOf("/");
            const dir = slash < 0 ? "" : path.slice(0, slash);
            const base = path.slice(slash + 1);
            if (base === ".wh..wh..opq") {
              opaque.push(dir);
              return;
            }
            if (base.startsWith(".wh.")) {
              whiteouts.push(dir === "" ? base.slice(4) : `${dir}/${base.slice(4)}`);
              return;
            }
            const node: FsNode = {
              type: header.type === "hardlink" ? "file" : header.type,
              mode: header.mode,
              uid: header.uid,
              gid: header.gid,
              ...(header.type === "symlink" ? { linkname: header.linkname } : {}),
            };
            if (
              header.type === "file" &&
              KEEP_CONTENT.has(path) &&
              header.size <= MAX_KEPT_CONTENT
            ) {
              node.content = await read();
            }
            changes.push({
              path,
              node,
              ...(header.type === "hardlink" ? { hardlink: cleanImagePath(header.linkname) } : {}),
            });
          },
          { lenientEnd: true, ...(budget ? { budget } : {}), what: `base layer ${layer.digest}` },
        );
      } catch (error) {
        if (error instanceof BudgetExceededError) throw new FsError(error.message);
        if (error instanceof TarFormatError) {
          throw new FsError(`base layer ${layer.digest} cannot be read: ${error.message}`);
        }
        throw error;
      }
      for (const dir of opaque) fs.removeBelow(dir);
      for (const path of whiteouts) {
        fs.nodes.delete(path);
        fs.removeBelow(path);
      }
      for (const change of changes) {
        const linked = change.hardlink !== undefined ? fs.nodes.get(change.hardlink) : undefined;
        fs.nodes.set(
          change.path,
          linked?.content ? { ...change.node, content: linked.content } : change.node,
        );
      }
    }
    return fs;
  }

  get(path: string): FsNode | undefined {
    return this.nodes.get(path);
  }

  /** Record a layer of this build. */
  apply(entries: LayerEntry[]): void {
    for (const e of entries) {
      if (this.nodes.get(e.path)?.type === "dir" && e.type !== "dir") this.removeBelow(e.path);
      this.nodes.set(e.path, {
        type: e.type,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
        ...(KEEP_CONTENT.has(e.path) && e.content ? { content: e.content } : {}),
      });
    }
  }

  private removeBelow(dir: string): void {
    const prefix = dir === "" ? "" : `${dir}/`;
    for (const path of [...this.nodes.keys()]) {
      if (path !== "" && path.startsWith(prefix) && path !== dir) this.nodes.delete(path);
    }
  }

  /**
   * The real path of an image path (clean, no leading slash): symbolic links in its
   * directories are followed inside the image's root, and so is the last component when
   * `followLast`. Throws when a directory component is a file, or links loop.
   */
  resolve(path: string, followLast: boolean): string {
    const queue = path.split("/").filter((p) => p !== "" && p !== ".");
    const done: string[] = [];
    let hops = 0;
    while (queue.length > 0) {
      const part = queue.shift()!;
      if (part === "..") {
        done.pop();
        continue;
      }
      if (part === ".") continue;
      const candidate = [...done, part].join("/");
      const node = this.nodes.get(candidate);
      const last = queue.length === 0;
      if (node?.type === "symlink" && (!last || followLast)) {
        if (++hops > MAX_SYMLINK_HOPS) {
          throw new FsError(`too many levels of symbolic links resolving /${path}`);
        }
        const target = node.linkname ?? "";
        if (target.startsWith("/")) done.length = 0;
        queue.unshift(...target.split("/").filter((p) => p !== ""));
        continue;
      }
      if (!last && node && node.type !== "dir") {
        throw new FsError(`/${candidate} is a file in the image, not a directory`);
      }
      done.push(part);
    }
    return done.join("/");
  }

  /** uid and primary gid of a user name, from the image's /etc/passwd. */
  user(name: string): { uid: number; gid: number } | undefined {
    for (const fields of this.table("etc/passwd")) {
      if (fields[0] === name && fields.length >= 4) {
        const uid = Number(fields[2]);
        const gid = Number(fields[3]);
        if (Number.isInteger(uid) && Number.isInteger(gid)) return { uid, gid };
      }
    }
    return undefined;
  }

  /** gid of a group name, from the image's /etc/group. */
  group(name: string): number | undefined {
    for (const fields of this.table("etc/group")) {
      if (fields[0] === name && fields.length >= 3) {
        const gid = Number(fields[2]);
        if (Number.isInteger(gid)) return gid;
      }
    }
    return undefined;
  }

  private table(path: string): string[][] {
    const content = this.nodes.get(path)?.content;
    if (!content) return [];
    return content
      .toString("utf8")
      .split("\n")
      .filter((line) => line !== "" && !line.startsWith("#"))
      .map((line) => line.split(":"));
  }
}
