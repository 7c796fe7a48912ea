import { buffer } from "node:stream/consumers";
import { createGzip, gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import type { BlobStore } from "../storage/blob-store";
import { readTar, type TarHeader } from "./tar-io";

/** Test helpers for builds: a context tar from a description, and a layer's entries. */

export type ContextSpec = Record<
  string,
  | string
  | Uint8Array
  | { content: string | Uint8Array; mode?: number }
  | { dir: true; mode?: number }
  | { symlink: string }
  | { hardlink: string }
>;

/** A build context tar (gzip-compressed with `gzip`), entries in the order given. */
export async function contextTar(
  spec: ContextSpec,
  opts: { gzip?: boolean } = {},
): Promise<Buffer> {
  const p = pack();
  const packed = buffer(p);
  const mtime = new Date(1_700_000_000_000);
  for (const [name, value] of Object.entries(spec)) {
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (typeof value === "string" || value instanceof Uint8Array) {
        p.entry({ name, mode: 0o644, mtime, uid: 501, gid: 20 }, Buffer.from(value), done);
      } else if ("content" in value) {
        p.entry(
          { name, mode: value.mode ?? 0o644, mtime, uid: 501, gid: 20 },
          Buffer.from(value.content),
          done,
        );
      } else if ("dir" in value) {
        p.entry(
          { name, type: "directory", mode: value.mode ?? 0o755, mtime, uid: 501, gid: 20 },
          done,
        );
      } else if ("symlink" in value) {
        p.entry({ name, type: "symlink", linkname: value.symlink, mode: 0o777, mtime }, done);
      } else {
        p.entry({ name, type: "link", linkname: value.hardlink, mode: 0o644, mtime }, done);
      }
    });
  }
  p.finalize();
  const tar = await packed;
  return opts.gzip ? gzipSync(tar) : tar;
}

export interface LayerFile extends TarHeader {
  content?: string;
}

/** The entries of a stored layer, in archive order, with file contents as text. */
export async function readLayer(store: BlobStore, digest: string): Promise<LayerFile[]> {
  const out: LayerFile[] = [];
  await readTar(await store.get(digest), async (header, read) => {
    out.push(
      header.type === "file" ? { ...header, content: (await read()).toString("utf8") } : header,
    );
  });
  return out;
}

/**
 * A decompression bomb for ADD and contexts: a gzip-compressed tar holding `files` files of
 * `bytesEach` zero bytes (about a thousandth of that compressed), made as a stream.
 */
export async function gzipBomb(opts: { bytesEach: number; files?: number }): Promise<Buffer> {
  const p = pack();
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on("data", (c: Buffer) => out.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    gz.on("end", () => resolve());
    gz.on("error", reject);
  });
  p.pipe(gz);
  const zeros = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < (opts.files ?? 1); i++) {
    await new Promise<void>((resolve, reject) => {
      const entry = p.entry({ name: `zeros-${i}`, size: opts.bytesEach, mode: 0o644 }, (err) =>
        err ? reject(err) : resolve(),
      ) as unknown as NodeJS.WritableStream;
      const write = async () => {
        for (let left = opts.bytesEach; left > 0; left -= zeros.length) {
          const chunk = left >= zeros.length ? zeros : zeros.subarray(0, left);
          if (!entry.write(chunk)) await new Promise<void>((r) => entry.once("drain", () => r()));
        }
        entry.end();
      };
      write().catch(reject);
    });
  }
  p.finalize();
  await ended;
  return Buffer.concat(out);
}
